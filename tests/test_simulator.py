"""The simulator against a live server on loopback: the reference client must run the whole protocol."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command

from carriers.services import courier_credential_create
from lockers.device.credentials import device_provisioning_issue
from lockers.simulator import LockerClient, SimulatedLocker
from notifications.models import Notification
from parcels.models import Parcel, ParcelEvent, ParcelStatus
from parcels.selectors import parcel_timeline
from parcels.services import Recipient, code_secrets, parcels_expire_due

pytestmark = pytest.mark.usefixtures("transactional_db")

BADGE, PIN = "NS-0042", "2468"


@pytest.fixture
def sim(live_server, locker, carrier) -> SimulatedLocker:
    courier_credential_create(partner=carrier, courier_name="Cory Courier", badge_number=BADGE, pin=PIN)
    client = LockerClient(live_server.url, locker.serial_number)
    client.provision(device_provisioning_issue(locker=locker))
    simulated = SimulatedLocker(client, log=lambda line: None)
    simulated.heartbeat()
    return simulated


def _announce_three(announce) -> list[Parcel]:
    return [
        announce(recipient=Recipient(name=f"Recipient {n}", phone=f"+1612555010{n}", email=f"r{n}@example.com"))
        for n in range(3)
    ]


def _types(parcel: Parcel) -> list[str]:
    return [event.type for event in parcel_timeline(parcel)]


def test_a_full_round_of_deposit_pickup_expiry_and_collection(sim, announce, locker):
    parcels = _announce_three(announce)
    locker.refresh_from_db()
    assert locker.is_online

    sim.courier_sign_in(BADGE, PIN)
    expected = sim.courier_parcels()["to_deposit"]
    assert sorted(row["parcel_id"] for row in expected) == sorted(parcel.pk for parcel in parcels)
    doors = {parcel.pk: sim.courier_deposit(parcel.tracking_number)["door"] for parcel in parcels}

    for parcel in parcels:
        parcel.refresh_from_db()
        assert parcel.status == ParcelStatus.READY_FOR_PICKUP
        assert parcel.compartment.label == doors[parcel.pk]
        assert Notification.objects.filter(parcel=parcel, kind=Notification.Kind.PARCEL_READY).count() == 2

    picked = parcels[0]
    opening = sim.enter_code(code_secrets(picked.pickup_code)[0])
    assert [door["door"] for door in opening.doors] == [doors[picked.pk]]

    deadline = Parcel.objects.get(pk=parcels[1].pk).pickup_deadline
    with time_machine.travel(deadline + timedelta(hours=1), tick=True):
        assert parcels_expire_due() == 2
        sim.heartbeat()
        sim.courier_sign_in(BADGE, PIN)
        to_collect = sim.courier_parcels()["to_collect"]
        assert sorted(row["parcel_id"] for row in to_collect) == sorted(parcel.pk for parcel in parcels[1:])
        for row in to_collect:
            sim.courier_collect(row["parcel_id"])

    assert not sim.outbox
    assert Parcel.objects.get(pk=picked.pk).status == ParcelStatus.PICKED_UP
    assert _types(picked) == ["announced", "reserve", "deposit", "door_opened_for_pickup", "pick_up"]
    for parcel in parcels[1:]:
        assert Parcel.objects.get(pk=parcel.pk).status == ParcelStatus.RETURNED_TO_SENDER
        assert _types(parcel) == ["announced", "reserve", "deposit", "expire", "collect"]
        assert {event.actor for event in parcel_timeline(parcel) if event.type in ("deposit", "collect")} == {"courier"}


def test_the_offline_bundle_opens_the_right_door_and_the_sync_records_the_pickup_once(sim, announce):
    parcels = _announce_three(announce)
    sim.courier_sign_in(BADGE, PIN)
    for parcel in parcels:
        sim.courier_deposit(parcel.tracking_number)
    sim.heartbeat()  # the bundle changed with the deposits: the locker fetches it
    target = Parcel.objects.get(pk=parcels[0].pk)
    pin, _ = code_secrets(target.pickup_code)

    sim.client.link_up = False
    wrong = sim.enter_code("12345678" if pin != "12345678" else "87654321")
    right = sim.enter_code(pin)
    again = sim.enter_code(pin)
    assert Parcel.objects.get(pk=target.pk).status == ParcelStatus.READY_FOR_PICKUP  # nothing reached the server

    assert (wrong.offline, wrong.doors) == (True, [])
    assert right.doors == [{"door": target.compartment.label, "parcel_id": target.pk}]
    assert again.doors == []

    pending = list(sim.outbox)
    sim.client.link_up = True
    first = sim.sync()
    sim.outbox.extend(pending)  # a lost answer: the locker sends the same events again
    second = sim.sync()

    assert first[0]["applied"] == 2 and second[0]["duplicates"] == 2
    target.refresh_from_db()
    assert target.status == ParcelStatus.PICKED_UP
    assert ParcelEvent.objects.filter(parcel=target, type="pick_up").count() == 1
    assert ParcelEvent.objects.get(parcel=target, type="pick_up").actor_label.endswith("(offline)")
    for other in parcels[1:]:
        assert Parcel.objects.get(pk=other.pk).status == ParcelStatus.READY_FOR_PICKUP


def test_the_management_command_runs_its_scenarios(live_server, locker, carrier, announce, capsys):
    courier_credential_create(partner=carrier, courier_name="Cory Courier", badge_number=BADGE, pin=PIN)
    parcels = _announce_three(announce)

    call_command("simulate_locker", "--url", live_server.url, "--serial", locker.serial_number, "--provision",
                 "--badge", BADGE, "--pin", PIN, "--scenario", "door-breaks", "--scenario", "outage",
                 "--scenario", "round", "--scenario", "heartbeats", "--count", "5")

    output = capsys.readouterr().out
    assert "broken; " in output and "a wrong code opens 0 doors" in output
    statuses = {Parcel.objects.get(pk=parcel.pk).status for parcel in parcels}
    assert statuses == {ParcelStatus.PICKED_UP}
    assert locker.compartments.filter(condition="broken").count() == 1
