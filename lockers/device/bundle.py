"""The offline bundle: what a locker needs to let recipients collect while its link is down.

For each live pickup code with parcels waiting in this locker the bundle holds
HMAC(bundle_key, pin) and HMAC(bundle_key, qr_token) with the doors they open and
until when; never a plain code. The bundle key is HMAC(CODE_PEPPER, "bundle:" + serial
+ ":" + version) and travels with the bundle, so the locker can hash what is typed
the same way. The version is a digest of what the bundle holds, so it changes
exactly when a code or a door changes, and a new version has a new key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from lockers.models import Compartment, Locker
from lockers_site import rows
from parcels.models import Parcel, ParcelStatus, PickupCode
from parcels.services import code_secrets

from . import signing


def _waiting(locker: Locker):
    return Parcel.objects.filter(
        status=ParcelStatus.READY_FOR_PICKUP,
        compartment__locker=locker,
        pickup_code__state=PickupCode.State.LIVE,
        pickup_code__purpose=PickupCode.Purpose.PICKUP,
    )


_PARCEL = rows.Part(Parcel, "p")
_DOOR = rows.Part(Compartment, "d")
_CODE = rows.Part(PickupCode, "k")


@functools.cache
def _version_sql() -> str:
    # From the locker's doors to the parcel in each (one at most: `parcel_one_per_compartment`).
    # LIMIT 1 keeps the lateral subquery a probe of the parcels' door index per door;
    # as a plain join PostgreSQL hash-joined the doors to every ready parcel of the
    # network (2 ms of a heartbeat's 2.3 ms of database time on the bench database).
    # The deadline as text: the digest needs it only to change when the deadline does,
    # and the database formats it far cheaper than the driver parses a timestamp.
    return (f"SELECT {_PARCEL.col('pickup_code')}, {_PARCEL.col('id')}, {_PARCEL.col('compartment')}, "
            f"CAST({_PARCEL.col('pickup_deadline')} AS TEXT) FROM {_DOOR.table} "
            f"CROSS JOIN LATERAL (SELECT {_PARCEL.col('pickup_code')}, {_PARCEL.col('id')}, "
            f"{_PARCEL.col('compartment')}, {_PARCEL.col('pickup_deadline')} FROM {_PARCEL.table} "
            f"WHERE {_PARCEL.col('compartment')} = {_DOOR.col('id')} AND {_PARCEL.col('status')} = %s LIMIT 1) "
            f"{_PARCEL.alias} "
            f"JOIN {_CODE.table} ON {_CODE.col('id')} = {_PARCEL.col('pickup_code')} "
            f"WHERE {_DOOR.col('locker')} = %s AND {_CODE.col('state')} = %s AND {_CODE.col('purpose')} = %s "
            f"ORDER BY {_PARCEL.col('id')}")


def bundle_version(locker: Locker) -> str:
    """A digest of the (code, parcel, door, deadline) rows the bundle holds; one query, no secrets.

    It selects what `_waiting` does. Every heartbeat asks, so the query is written out
    (`lockers_site.rows`) and its rows are digested as the database returns them.
    """
    # The constants stay bound (unlike the code look-up's): written into the SQL they let
    # PostgreSQL plan a scan of the partial index of every ready parcel in the network
    # (5d1e28e: 4 ms a heartbeat on the bench database).
    params = [ParcelStatus.READY_FOR_PICKUP, locker.pk, PickupCode.State.LIVE, PickupCode.Purpose.PICKUP]
    digest = hashlib.sha256()
    for code_id, parcel_id, door_id, deadline in rows.execute(_version_sql(), params):
        digest.update(f"{code_id}:{parcel_id}:{door_id}:{deadline};".encode())
    return digest.hexdigest()[:20]


def bundle_key(locker: Locker, version: str) -> str:
    message = f"bundle:{locker.serial_number}:{version}".encode()
    return hmac.new(settings.CODE_PEPPER.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Bundle:
    version: str
    key: str
    generated_at: datetime
    entries: list[dict[str, Any]]


def offline_bundle(locker: Locker) -> Bundle:
    """The bundle for `locker` now: one entry per live pickup code, with its doors and deadline."""
    version = bundle_version(locker)
    key = bundle_key(locker, version)
    by_code: dict[int, dict[str, Any]] = {}
    parcels = _waiting(locker).select_related("pickup_code", "compartment").order_by("pk")
    for parcel in parcels:
        entry = by_code.get(parcel.pickup_code_id)
        if entry is None:
            pin, qr_token = code_secrets(parcel.pickup_code)
            entry = by_code[parcel.pickup_code_id] = {
                "pin_hash": signing.bundle_pin_hash(key, pin),
                "qr_hash": signing.bundle_qr_hash(key, qr_token),
                "doors": [],
                "valid_until": parcel.pickup_deadline,
            }
        entry["doors"].append({"door": parcel.compartment.label, "parcel_id": parcel.pk})
        # One code for several parcels stops working offline at the earliest of their deadlines.
        entry["valid_until"] = min(entry["valid_until"], parcel.pickup_deadline)
    return Bundle(version=version, key=key, generated_at=timezone.now(), entries=list(by_code.values()))
