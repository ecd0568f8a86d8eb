"""Helpers for the device API tests: a provisioned locker and a client that signs like a locker."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest

from lockers.device import signing
from lockers.device.credentials import device_provisioning_exchange, device_provisioning_issue
from lockers.models import Locker

API = "/api/device/v1/"


class SignedClient:
    """Django's test client, signing every request with the locker's secret."""

    def __init__(self, client, locker: Locker, secret: str) -> None:
        self.client = client
        self.locker = locker
        self.secret = secret

    def request(self, method: str, path: str, data: Any = None, *, timestamp: int | None = None,
                nonce: str | None = None, body: bytes | None = None, secret: str | None = None,
                sent_to: str | None = None, gzipped: bool = False):
        """Sign for `path` and `data`; `body`, `sent_to` and `secret` let a test tamper with what is sent."""
        full = path if path.startswith("/") else API + path
        signed = json.dumps(data).encode() if data is not None else b""
        extra = {}
        if gzipped:
            signed = gzip.compress(signed)
            extra["Content-Encoding"] = "gzip"
        sent = body if body is not None else signed
        headers = signing.signed_headers(
            serial=self.locker.serial_number, secret=secret or self.secret, method=method, path=full, body=signed,
            timestamp=int(time.time()) if timestamp is None else timestamp, nonce=nonce,
        ) | extra
        target = API + sent_to if sent_to else full
        return self.client.generic(method, target, sent, content_type="application/json", headers=headers)

    def post(self, path: str, data: Any = None, **kwargs: Any):
        return self.request("POST", path, data if data is not None else {}, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self.request("GET", path, **kwargs)


@pytest.fixture
def provisioned(locker):
    token = device_provisioning_issue(locker=locker)
    return locker, device_provisioning_exchange(serial_number=locker.serial_number, token=token)


@pytest.fixture
def device(client, provisioned):
    locker, secret = provisioned
    return SignedClient(client, locker, secret)


def deposited(announce, device_client: SignedClient, **overrides: Any):
    """A parcel announced, reserved in the device's locker and deposited; returns it fresh from the database."""
    from parcels.lifecycle import Who
    from parcels.models import Actor
    from parcels.services import deposit_door_assign, parcel_deposit

    parcel = announce(**overrides)
    deposit_door_assign(parcel_id=parcel.pk, locker=device_client.locker, who=Who(Actor.COURIER, "test"))
    return parcel_deposit(parcel_id=parcel.pk, who=Who(Actor.COURIER, "test"))
