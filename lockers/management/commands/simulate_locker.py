"""Run a simulated locker against a running server over real HTTP: scripted scenarios or a keypad prompt.

    manage.py simulate_locker --url http://127.0.0.1:8000 --serial SN-... --provision \\
        --badge NS-0001 --pin 2468 --scenario round --scenario door-breaks --scenario outage
    manage.py simulate_locker --url http://127.0.0.1:8000 --serial SN-... --secret ... --interactive

The locker side speaks only HTTP. The recipients of the scenarios learn their codes
the way an SMS would tell them, here read from this project's database with
`parcels.services.code_secrets`, so scenarios run with the server's settings.
`--provision` issues a provisioning token the way an operator does in the admin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lockers.device.credentials import device_provisioning_issue
from lockers.models import Locker
from lockers.simulator import DeviceRefused, LinkDown, LockerClient, SimulatedLocker
from parcels.models import Parcel, ParcelStatus
from parcels.services import code_secrets

SCENARIOS = ("round", "door-breaks", "outage", "heartbeats")


class Command(BaseCommand):
    help = "Act as a locker over real HTTP: scripted scenarios or an interactive keypad."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Base URL of the running server.")
        parser.add_argument("--serial", required=True, help="Serial number of the locker to act as.")
        credential = parser.add_mutually_exclusive_group(required=True)
        credential.add_argument("--secret", help="The locker's secret from an earlier provisioning.")
        credential.add_argument("--token", help="A one-time provisioning token to exchange.")
        credential.add_argument("--provision", action="store_true", help="Issue a token here and exchange it.")
        parser.add_argument("--badge", default="", help="Courier badge number for the courier scenarios.")
        parser.add_argument("--pin", default="", help="Courier PIN.")
        parser.add_argument("--scenario", action="append", choices=SCENARIOS, default=[])
        parser.add_argument("--count", type=int, default=100, help="Heartbeats for the 'heartbeats' scenario.")
        parser.add_argument("--interactive", action="store_true", help="Type codes and see which door opens.")

    def handle(self, *args: Any, **options: Any) -> None:
        locker = Locker.objects.filter(serial_number=options["serial"]).first()
        if locker is None:
            raise CommandError(f"No locker with serial number {options['serial']}.")
        client = LockerClient(options["url"], locker.serial_number, options["secret"] or "")
        sim = SimulatedLocker(client, log=self.stdout.write)
        if options["provision"] or options["token"]:
            token = options["token"] or device_provisioning_issue(locker=locker)
            self.stdout.write(f"Provisioned; the locker's secret (keep it for --secret): {client.provision(token)}")
        sim.heartbeat()
        runners: dict[str, Callable[[SimulatedLocker, Locker, dict[str, Any]], None]] = {
            "round": self.courier_round, "door-breaks": self.door_breaks, "outage": self.outage,
            "heartbeats": self.heartbeats,
        }
        try:
            for name in options["scenario"]:
                self.stdout.write(self.style.MIGRATE_HEADING(f"== {name}"))
                runners[name](sim, locker, options)
            if options["interactive"]:
                self.interactive(sim)
        except DeviceRefused as refusal:
            raise CommandError(f"The server refused: {refusal}") from refusal

    def _sign_in(self, sim: SimulatedLocker, options: dict[str, Any]) -> None:
        if not options["badge"]:
            raise CommandError("Courier scenarios need --badge and --pin.")
        answer = sim.courier_sign_in(options["badge"], options["pin"])
        self.stdout.write(f"Courier {answer['courier_name']} of {answer['partner']} signed in.")

    def courier_round(self, sim: SimulatedLocker, locker: Locker, options: dict[str, Any]) -> None:
        """The courier deposits every expected parcel, then each recipient collects with the code they got."""
        self._sign_in(sim, options)
        deposited = []
        for row in sim.courier_parcels()["to_deposit"]:
            try:
                door = sim.courier_deposit(row["tracking_number"])
            except DeviceRefused as refusal:
                self.stdout.write(f"  {row['tracking_number']}: kept by the courier ({refusal.code})")
                continue
            deposited.append(door["parcel_id"])
            self.stdout.write(f"  {row['tracking_number']} -> door {door['door']}")
        for parcel in Parcel.objects.filter(pk__in=deposited, status=ParcelStatus.READY_FOR_PICKUP):
            pin, _ = code_secrets(parcel.pickup_code)
            opening = sim.enter_code(pin)
            self.stdout.write(f"  recipient of {parcel.tracking_number} typed a code: doors "
                              f"{[door['door'] for door in opening.doors]}")
        for row in sim.courier_parcels()["to_collect"]:
            sim.courier_collect(row["parcel_id"])
            self.stdout.write(f"  collected {row['tracking_number']} from door {row['door']}")

    def door_breaks(self, sim: SimulatedLocker, locker: Locker, options: dict[str, Any]) -> None:
        """The courier finds the assigned door broken, reports it and uses the door offered instead."""
        self._sign_in(sim, options)
        expected = sim.courier_parcels()["to_deposit"]
        if not expected:
            self.stdout.write("  no parcel expected here: nothing to deposit")
            return
        row = expected[0]
        first = sim.courier_assign(row["tracking_number"])
        second = sim.courier_report_problem(first["parcel_id"], "broken")
        sim.use_door(second["door"], purpose="deposit", parcel_id=second["parcel_id"], badge_number=sim.courier_badge)
        sim.sync()
        self.stdout.write(f"  door {first['door']} broken; {row['tracking_number']} went into door {second['door']}")

    def outage(self, sim: SimulatedLocker, locker: Locker, options: dict[str, Any]) -> None:
        """The link drops; recipients still collect through the offline bundle; the sync records it all."""
        sim.refresh_bundle()
        waiting = Parcel.objects.filter(compartment__locker=locker, status=ParcelStatus.READY_FOR_PICKUP)
        sim.client.link_up = False
        self.stdout.write("  link down")
        wrong = sim.enter_code("00000000")
        self.stdout.write(f"  a wrong code opens {len(wrong.doors)} doors")
        for parcel in waiting.select_related("pickup_code"):
            opening = sim.enter_code(code_secrets(parcel.pickup_code)[0])
            self.stdout.write(f"  offline: {parcel.tracking_number} -> doors {[d['door'] for d in opening.doors]}")
        sim.client.link_up = True
        for answer in sim.sync():
            self.stdout.write(f"  link up; synced: {answer}")

    def heartbeats(self, sim: SimulatedLocker, locker: Locker, options: dict[str, Any]) -> None:
        started = time.monotonic()
        for _ in range(options["count"]):
            sim.heartbeat()
        elapsed = time.monotonic() - started
        self.stdout.write(f"  {options['count']} heartbeats in {elapsed:.2f} s "
                          f"({options['count'] / elapsed:.0f}/s)")

    def interactive(self, sim: SimulatedLocker) -> None:
        self.stdout.write("Type a PIN (or 'qr:TOKEN'). ':offline', ':online', ':sync', ':beat', ':quit'.")
        while True:
            try:
                line = input("code> ").strip()
            except EOFError:
                return
            if line in (":quit", ":q"):
                return
            if line in (":offline", ":online"):
                sim.client.link_up = line == ":online"
                self.stdout.write(f"link {'up' if sim.client.link_up else 'down'}")
                continue
            try:
                if line == ":sync":
                    self.stdout.write(str(sim.sync()))
                elif line == ":beat":
                    self.stdout.write(str(sim.heartbeat()))
                elif line:
                    scanned = line.startswith("qr:")
                    opening = sim.enter_code(line.removeprefix("qr:"), scanned=scanned)
                    doors = ", ".join(door["door"] for door in opening.doors) or "no door"
                    self.stdout.write(f"opens {doors}{' (offline)' if opening.offline else ''}")
            except DeviceRefused as refusal:
                self.stdout.write(f"refused: {refusal.code} {refusal.problem.get('detail', '')}")
            except LinkDown:
                self.stdout.write("link down")
