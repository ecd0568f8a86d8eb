"""The reference client of the device protocol: a simulated locker talking to the server over real HTTP.

`LockerClient` signs and sends requests with the very code the server verifies with
(`lockers.device.signing`); `SimulatedLocker` is the controller around it: doors, an
outbox of events with its own sequence numbers, the offline bundle and a keypad that
works with the link down. Only the standard library is used for HTTP, so the file
runs anywhere Python does; `manage.py simulate_locker` drives it with scripted
scenarios or interactively, and it doubles as a load generator.
"""

from __future__ import annotations

import gzip
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lockers.device import signing

API_PREFIX = "/api/device/v1/"
UPLOAD_BATCH = 5000
OFFLINE_FREE_TRIES = 5


class LinkDown(ConnectionError):
    """The locker's network link is down (simulated, or the server is unreachable)."""


class DeviceRefused(Exception):
    """The server answered with a problem (RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("type", "")).rsplit("/", 1)[-1]
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")


class LockerClient:
    """Signed requests to the device API; `link_up = False` makes every call fail like a cut cable."""

    def __init__(self, base_url: str, serial: str, secret: str = "", *, timeout: float = 30,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.serial = serial
        self.secret = secret
        self.timeout = timeout
        self.clock = clock
        self.link_up = True

    def provision(self, token: str) -> str:
        """Exchange a one-time provisioning token for this locker's secret, and keep it."""
        answer = self.call("POST", "provision", {"serial_number": self.serial, "token": token}, signed=False)
        self.secret = answer["secret"]
        return self.secret

    def call(self, method: str, path: str, data: Any = None, *, signed: bool = True,
             compress: bool = False) -> dict[str, Any]:
        if not self.link_up:
            raise LinkDown("The locker's link is down.")
        full_path = API_PREFIX + path
        body = json.dumps(data).encode() if data is not None else b""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if signed:
            headers |= signing.signed_headers(serial=self.serial, secret=self.secret, method=method, path=full_path,
                                              body=body, timestamp=int(self.clock()))
        request = urllib.request.Request(self.base_url + full_path, data=body if method != "GET" else None,
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                problem = json.loads(payload)
            except ValueError:
                problem = {"detail": payload.decode(errors="replace")}
            raise DeviceRefused(error.code, problem) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise LinkDown(str(error)) from error


@dataclass
class Opening:
    """What the locker opened for someone: the doors and the parcels behind them."""

    purpose: str
    doors: list[dict[str, Any]]
    offline: bool = False


@dataclass
class SimulatedLocker:
    """A locker controller: it records every door movement as an event and syncs when it can."""

    client: LockerClient
    firmware_version: str = "sim-1.0"
    sequence: int = 0
    outbox: list[dict[str, Any]] = field(default_factory=list)
    bundle: dict[str, Any] = field(default_factory=dict)
    door_states: dict[str, str] = field(default_factory=dict)
    used_offline: set[str] = field(default_factory=set)
    wrong_offline: int = 0
    acknowledged: set[int] = field(default_factory=set)
    courier_session: str = ""
    courier_badge: str = ""
    log: Callable[[str], None] = print

    # --- events ----------------------------------------------------------------------------------

    def record(self, kind: str, door: str = "", *, purpose: str = "", parcel_id: int | None = None,
               **data: Any) -> dict[str, Any]:
        self.sequence += 1
        event = {
            "event_id": str(uuid.uuid4()), "sequence": self.sequence,
            "occurred_at": datetime.fromtimestamp(self.client.clock(), UTC).isoformat(),
            "type": kind, "door": door, "purpose": purpose, "parcel_id": parcel_id, "data": data,
        }
        self.outbox.append(event)
        if door:
            self.door_states[door] = "open" if kind == "door_opened" else "closed"
        return event

    def use_door(self, door: str, *, purpose: str, parcel_id: int, **data: Any) -> None:
        """Someone opens the door, does what they came for and closes it: two events."""
        self.record("door_opened", door, **data)
        self.record("door_closed", door, purpose=purpose, parcel_id=parcel_id, **data)

    def sync(self) -> list[dict[str, Any]]:
        """Upload the outbox oldest first, in batches; what the server accepted leaves the outbox.

        Sending in sequence order keeps the order of occurrence across batches too. On a
        lost answer the batch stays and is sent again: the server ignores what it has.
        """
        answers = []
        while self.outbox:
            batch = self.outbox[:UPLOAD_BATCH]
            try:
                answers.append(self.client.call("POST", "events", {"events": batch}, compress=len(batch) > 50))
            except LinkDown:
                break
            del self.outbox[:len(batch)]
        return answers

    # --- heartbeat, commands, bundle ---------------------------------------------------------------

    def heartbeat(self) -> dict[str, Any]:
        answer = self.client.call("POST", "heartbeat", {
            "firmware_version": self.firmware_version,
            "doors": [{"door": door, "state": state} for door, state in sorted(self.door_states.items())],
            "last_event_sequence": self.sequence,
            "bundle_version": self.bundle.get("version", ""),
        })
        for command in answer["commands"]:
            self._carry_out(command)
        if answer["bundle_changed"]:
            self.refresh_bundle()
        if answer["rotate_secret"]:
            self.client.secret = self.client.call("POST", "credentials/rotate")["secret"]
        self.sync()
        return answer

    def _carry_out(self, command: dict[str, Any]) -> None:
        if command["id"] in self.acknowledged:
            return  # delivered again before our acknowledgement arrived
        if command["kind"] in {"open_door", "open_door_to_load"}:
            self.record("door_opened", command["door"], command_id=command["id"])
            self.record("door_closed", command["door"], command_id=command["id"])
        elif command["kind"] == "refresh_bundle":
            self.refresh_bundle()
        self.log(f"command {command['id']}: {command['kind']} {command.get('door') or ''} ({command['reason']})")
        self.client.call("POST", f"commands/{command['id']}/ack", {"succeeded": True, "result": "done"})
        self.acknowledged.add(command["id"])

    def refresh_bundle(self) -> dict[str, Any]:
        self.bundle = self.client.call("GET", "bundle")
        self.used_offline.clear()
        return self.bundle

    # --- recipient at the keypad -------------------------------------------------------------------

    def enter_code(self, code: str, *, scanned: bool = False) -> Opening:
        """A recipient types a PIN (or scans a QR token): online through the server, else through the bundle.

        The doors opened are used at once (the parcel taken, the door closed) and
        the events synced if the link is up. Raises DeviceRefused for a refused code.
        """
        try:
            answer = self.client.call("POST", "codes/pickup", {"qr_token" if scanned else "pin": code})
            opening = Opening("pickup", answer["doors"])
        except LinkDown:
            opening = Opening("pickup", self.check_offline(code, scanned=scanned), offline=True)
        for door in opening.doors:
            extra = {"offline": True} if opening.offline else {}
            self.use_door(door["door"], purpose="pickup", parcel_id=door["parcel_id"], **extra)
        if not opening.offline:
            self.sync()
        return opening

    def check_offline(self, code: str, *, scanned: bool = False) -> list[dict[str, Any]]:
        """The doors a code opens according to the offline bundle; [] for a wrong, used or expired code."""
        if not scanned and self.wrong_offline >= OFFLINE_FREE_TRIES:
            return []  # the keypad stays locked until the link is back
        key = self.bundle.get("key", "")
        digest = signing.bundle_qr_hash(key, code) if scanned else signing.bundle_pin_hash(key, code)
        now = datetime.fromtimestamp(self.client.clock(), UTC)
        for entry in self.bundle.get("codes", []):
            field_name = "qr_hash" if scanned else "pin_hash"
            if hmac.compare_digest(entry[field_name], digest):
                if digest in self.used_offline or datetime.fromisoformat(entry["valid_until"]) <= now:
                    return []
                self.used_offline.add(entry["pin_hash"])
                self.used_offline.add(entry["qr_hash"])
                return entry["doors"]
        if not scanned:
            self.wrong_offline += 1
        return []

    def enter_drop_off_code(self, code: str) -> Opening:
        answer = self.client.call("POST", "codes/drop-off", {"pin": code})
        opening = Opening("drop_off", answer["doors"])
        for door in opening.doors:
            self.use_door(door["door"], purpose="drop_off", parcel_id=door["parcel_id"])
        self.sync()
        return opening

    # --- courier ------------------------------------------------------------------------------------

    def courier_sign_in(self, badge_number: str, pin: str) -> dict[str, Any]:
        answer = self.client.call("POST", "courier/sign-in", {"badge_number": badge_number, "pin": pin})
        self.courier_session, self.courier_badge = answer["session"], badge_number
        return answer

    def courier_parcels(self) -> dict[str, Any]:
        return self.client.call("GET", f"courier/parcels?session={self.courier_session}")

    def courier_assign(self, tracking_number: str) -> dict[str, Any]:
        """The door the server assigns to a scanned parcel (nothing recorded yet)."""
        return self.client.call("POST", "courier/deposit",
                                {"session": self.courier_session, "tracking_number": tracking_number})

    def courier_report_problem(self, parcel_id: int, problem: str) -> dict[str, Any]:
        return self.client.call("POST", "courier/door-problem",
                                {"session": self.courier_session, "parcel_id": parcel_id, "problem": problem})

    def courier_deposit(self, tracking_number: str) -> dict[str, Any]:
        """Scan, put the parcel in the assigned door, close it, and sync."""
        door = self.courier_assign(tracking_number)
        self.use_door(door["door"], purpose="deposit", parcel_id=door["parcel_id"], badge_number=self.courier_badge)
        self.sync()
        return door

    def courier_collect(self, parcel_id: int) -> dict[str, Any]:
        door = self.client.call("POST", "courier/collect", {"session": self.courier_session, "parcel_id": parcel_id})
        self.use_door(door["door"], purpose="collect", parcel_id=parcel_id, badge_number=self.courier_badge)
        self.sync()
        return door
