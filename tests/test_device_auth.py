"""Signed device requests: provisioning, and each refusal of a signature, which must change nothing."""

from __future__ import annotations

import json
import time

import pytest
import time_machine

from lockers.device import signing
from lockers.device.credentials import (
    device_credential_revoke,
    device_provisioning_exchange,
    device_provisioning_issue,
    device_rotation_request,
)
from lockers.models import DeviceCredential, DeviceNonce, Locker
from tests.device_support import API, SignedClient

pytest_plugins = ["tests.device_support"]

HEARTBEAT = {"firmware_version": "2.0.1"}


@pytest.fixture(autouse=True, params=["database store", "redis store"])
def each_store(request):
    """Every check here holds whichever store remembers credentials and nonces (lockers.device.store)."""
    if request.param == "redis store":
        request.getfixturevalue("redis_settings")


def _problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + code)


def _unchanged(locker: Locker) -> None:
    locker.refresh_from_db()
    assert locker.last_heartbeat_at is None
    assert locker.firmware_version == ""


def test_a_signed_heartbeat_is_accepted_and_recorded(device):
    response = device.post("heartbeat", HEARTBEAT)

    assert response.status_code == 200, response.content
    device.locker.refresh_from_db()
    assert device.locker.is_online
    assert device.locker.firmware_version == "2.0.1"


def test_a_device_gets_json_whatever_its_accept_header_says(device, client, provisioned):
    body = json.dumps(HEARTBEAT).encode()
    headers = signing.signed_headers(serial=device.locker.serial_number, secret=device.secret, method="POST",
                                     path=API + "heartbeat", body=body, timestamp=int(time.time()))
    answered = client.post(API + "heartbeat", body, content_type="application/json",
                           headers=headers | {"Accept": "text/html"})
    refused = client.post(API + "heartbeat", HEARTBEAT, content_type="application/json",
                          headers={"Accept": "text/html"})

    assert answered.status_code == 200
    assert answered["Content-Type"] == "application/json"
    assert answered.json()["bundle_version"]
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"


def test_it_refuses_an_unsigned_request(client, provisioned):
    _problem(client.post(API + "heartbeat", HEARTBEAT, content_type="application/json"), 401, "signature_missing")


def test_it_refuses_a_timestamp_more_than_five_minutes_off(device):
    _problem(device.post("heartbeat", HEARTBEAT, timestamp=int(time.time()) - 301), 401, "clock_skew")
    _problem(device.post("heartbeat", HEARTBEAT, timestamp=int(time.time()) + 301), 401, "clock_skew")
    _unchanged(device.locker)
    assert not DeviceNonce.objects.exists()


@pytest.mark.parametrize("timestamp", ["9" * 400, "9" * 5000, "1" * 13, "\u0661" * 10])
def test_it_refuses_a_timestamp_too_long_or_not_ascii_digits_before_the_signature(device, timestamp):
    # 400 digits overflowed a float, 5000 exceeded int()'s digit limit: both were 500s.
    _problem(device.post("heartbeat", HEARTBEAT, timestamp=timestamp), 401, "clock_skew")
    _unchanged(device.locker)
    assert not DeviceNonce.objects.exists()


def test_it_accepts_a_clock_a_little_off(device):
    assert device.post("heartbeat", HEARTBEAT, timestamp=int(time.time()) - 240).status_code == 200


def test_it_refuses_a_replayed_nonce(device):
    first = device.post("heartbeat", HEARTBEAT, nonce="n" * 20)
    device.locker.refresh_from_db()
    seen = device.locker.last_heartbeat_at

    replay = device.post("heartbeat", {"firmware_version": "6.6.6"}, nonce="n" * 20)

    assert first.status_code == 200
    _problem(replay, 401, "nonce_reused")
    device.locker.refresh_from_db()
    assert (device.locker.last_heartbeat_at, device.locker.firmware_version) == (seen, "2.0.1")


def test_it_refuses_a_tampered_body(device):
    response = device.post("heartbeat", HEARTBEAT, body=b'{"firmware_version": "6.6.6"}')
    _problem(response, 401, "signature_invalid")
    _unchanged(device.locker)
    assert not DeviceNonce.objects.exists()


def test_it_refuses_a_request_sent_to_another_path_than_signed(device):
    _problem(device.post("heartbeat", HEARTBEAT, sent_to="credentials/rotate"), 401, "signature_invalid")
    _problem(device.get("bundle", sent_to="bundle?version=other"), 401, "signature_invalid")


def test_it_refuses_a_wrong_secret_and_an_unknown_serial(device, make_locker):
    _problem(device.post("heartbeat", HEARTBEAT, secret="guessed"), 401, "signature_invalid")
    stranger = SignedClient(device.client, make_locker("s", serial="SN-NOBODY"), device.secret)
    _problem(stranger.post("heartbeat", HEARTBEAT), 401, "signature_invalid")
    _unchanged(device.locker)


def test_a_revoked_locker_is_locked_out_at_once(device):
    assert device.post("heartbeat", HEARTBEAT).status_code == 200
    device_credential_revoke(locker_ids=[device.locker.pk])

    _problem(device.post("heartbeat", {"firmware_version": "6.6.6"}), 403, "locker_revoked")
    device.locker.refresh_from_db()
    assert device.locker.firmware_version == "2.0.1"


def test_a_decommissioned_locker_is_refused(device):
    assert device.post("heartbeat", HEARTBEAT).status_code == 200
    locker = Locker.objects.get(pk=device.locker.pk)
    locker.status = Locker.Status.DECOMMISSIONED
    locker.save(update_fields=["status"])  # as the admin saves it
    _problem(device.post("heartbeat", HEARTBEAT), 403, "locker_decommissioned")


def test_the_secret_is_not_stored_in_plain_text(provisioned):
    locker, secret = provisioned
    credential = DeviceCredential.objects.get(locker=locker)
    assert secret not in credential.secret_encrypted
    assert credential.provisioning_token_hash == ""


def test_a_provisioning_token_works_once(client, locker):
    token = device_provisioning_issue(locker=locker)
    body = {"serial_number": locker.serial_number, "token": token}

    first = client.post(API + "provision", body, content_type="application/json")
    second = client.post(API + "provision", body, content_type="application/json")

    assert first.status_code == 201 and len(first.json()["secret"]) >= 40
    _problem(second, 403, "provisioning_refused")


def test_an_expired_provisioning_token_is_refused(locker):
    token = device_provisioning_issue(locker=locker)
    with time_machine.travel("2099-01-01", tick=False), pytest.raises(Exception, match="not valid"):
        device_provisioning_exchange(serial_number=locker.serial_number, token=token)


def test_a_rotation_asked_by_the_operator_reaches_the_locker_and_the_old_secret_expires(device):
    device_rotation_request(locker_ids=[device.locker.pk])
    assert device.post("heartbeat", HEARTBEAT).json()["rotate_secret"] is True

    new_secret = device.post("credentials/rotate").json()["secret"]

    assert device.post("heartbeat", HEARTBEAT).status_code == 200  # old secret, within the grace period
    with time_machine.travel(time.time() + 600, tick=False):
        _problem(device.post("heartbeat", HEARTBEAT), 401, "signature_invalid")
        answer = device.post("heartbeat", HEARTBEAT, secret=new_secret)
    assert answer.status_code == 200 and answer.json()["rotate_secret"] is False
