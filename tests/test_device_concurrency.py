"""Racing device requests on PostgreSQL, over real HTTP: a replay passes once, a batch is applied once."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from django.utils import timezone

from lockers.device import signing
from lockers.device.credentials import device_provisioning_exchange, device_provisioning_issue
from parcels.models import ParcelEvent, ParcelStatus
from tests.device_support import API, deposited

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("transactional_db")]
RACERS = 8


@pytest.fixture
def secret(locker):
    return device_provisioning_exchange(serial_number=locker.serial_number,
                                        token=device_provisioning_issue(locker=locker))


def _send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _race(live_server, locker, secret, path: str, payload: dict, *, same_nonce: bool) -> list[tuple[int, dict]]:
    body = json.dumps(payload).encode()
    full = API + path

    def headers() -> dict[str, str]:
        return signing.signed_headers(serial=locker.serial_number, secret=secret, method="POST", path=full,
                                      body=body, timestamp=int(time.time()), nonce="same-nonce-for-all-racers"
                                      if same_nonce else None)

    prepared = [headers() for _ in range(RACERS)]
    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(lambda h: _send(live_server.url + full, body, h), prepared))


def test_a_request_replayed_concurrently_passes_once(live_server, locker, secret):
    answers = _race(live_server, locker, secret, "heartbeat", {"firmware_version": "3.0"}, same_nonce=True)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [401] * (RACERS - 1)
    assert {body["type"].rsplit("/", 1)[1] for status, body in answers if status == 401} == {"nonce_reused"}


def test_the_same_batch_uploaded_concurrently_is_applied_once(live_server, locker, secret, announce, client):
    from tests.device_support import SignedClient

    parcel = deposited(announce, SignedClient(client, locker, secret))
    door = parcel.compartment.label
    batch = {"events": [
        {"event_id": str(uuid.uuid4()), "sequence": 1, "occurred_at": timezone.now().isoformat(),
         "type": "door_opened", "door": door},
        {"event_id": str(uuid.uuid4()), "sequence": 2, "occurred_at": timezone.now().isoformat(),
         "type": "door_closed", "door": door, "purpose": "pickup", "parcel_id": parcel.pk},
    ]}

    answers = _race(live_server, locker, secret, "events", batch, same_nonce=False)

    assert [status for status, _ in answers] == [200] * RACERS
    assert sum(body["applied"] for _, body in answers) == 2
    assert sum(body["duplicates"] for _, body in answers) == 2 * (RACERS - 1)
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.PICKED_UP
    assert ParcelEvent.objects.filter(parcel=parcel, type="pick_up").count() == 1


def test_racing_heartbeats_and_event_batches_all_answer_and_deliver_a_command_sent_once(
        live_server, locker, secret, django_user_model):
    from lockers.device.commands import locker_command_queue
    from lockers.models import Locker, LockerCommand

    operator = django_user_model.objects.create_user("ops", password="x")
    command = locker_command_queue(locker=locker, kind=LockerCommand.Kind.REFRESH_BUNDLE, compartment=None,
                                   reason="Ticket 7", requested_by=operator)
    door = locker.compartments.order_by("pk").first().label

    def send(number: int) -> tuple[int, dict]:
        if number % 2:  # every other request a batch of one event, each with its own sequence
            path, payload = "events", {"events": [{
                "event_id": str(uuid.uuid4()), "sequence": number, "occurred_at": timezone.now().isoformat(),
                "type": "door_opened" if number % 4 == 1 else "door_closed", "door": door}]}
        else:
            path, payload = "heartbeat", {"doors": [{"door": door, "state": "open" if number % 4 else "closed"}]}
        body = json.dumps(payload).encode()
        headers = signing.signed_headers(serial=locker.serial_number, secret=secret, method="POST", path=API + path,
                                         body=body, timestamp=int(time.time()))
        return _send(live_server.url + API + path, body, headers)

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(send, range(4 * RACERS)))

    assert [status for status, _ in answers] == [200] * len(answers)
    heartbeats = [body for number, (_, body) in enumerate(answers) if number % 2 == 0]
    assert all([row["id"] for row in body["commands"]] == [command.pk] for body in heartbeats)
    command.refresh_from_db()
    assert command.state == LockerCommand.State.SENT
    # Marked by the first heartbeat to reach it, never again: every answer came after that.
    assert command.sent_at <= min(datetime.fromisoformat(body["server_time"]) for body in heartbeats)
    stored = Locker.objects.get(pk=locker.pk).last_event_sequence
    assert stored == 4 * RACERS - 1
    assert all(body["last_event_sequence"] is None or body["last_event_sequence"] <= stored for body in heartbeats)
