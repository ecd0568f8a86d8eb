"""DRF authentication for locker devices: every request signed with the locker's own secret.

Checks, in order, and each refusal changes nothing: the four headers are there, the
timestamp is within CLOCK_SKEW of the server clock, the locker is known, active and
not revoked, the signature matches (constant-time), and only then the nonce is
recorded: its unique (locker, nonce) row refuses a replay even between racing requests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from lockers.models import DeviceCredential, DeviceNonce, Locker, Site
from lockers_site import rows

from . import signing
from .credentials import secrets_for_signature
from .errors import ClockSkew, LockerDecommissioned, LockerRevoked, NonceReused, SignatureInvalid, SignatureMissing

CLOCK_SKEW = timedelta(minutes=5)
# A nonce must be remembered as long as a request carrying it could still pass the clock check.
NONCE_RETENTION = 2 * CLOCK_SKEW


@dataclass(frozen=True)
class Device:
    """The authenticated party of a device request (DRF's `request.user`)."""

    locker: Locker
    credential: DeviceCredential
    is_authenticated: bool = True


class DeviceSignatureAuthentication(BaseAuthentication):
    def authenticate_header(self, request: Request) -> str:
        return f'{signing.SCHEME} realm="device"'

    def authenticate(self, request: Request) -> tuple[Device, DeviceCredential]:
        headers = {name: request.headers.get(name, "").strip() for name in signing.SIGNED_HEADERS}
        if not all(headers.values()) or not signing.nonce_is_well_formed(headers[signing.HEADER_NONCE]):
            raise SignatureMissing()
        timestamp = headers[signing.HEADER_TIMESTAMP]
        now = timezone.now()
        # At most 12 ASCII digits: int() of a huge numeral is slow and its float comparison overflows.
        well_formed = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
        if not well_formed or abs(now.timestamp() - int(timestamp)) > CLOCK_SKEW.total_seconds():
            raise ClockSkew(f"Server time is {int(now.timestamp())}; keep the locker clock within "
                            f"{int(CLOCK_SKEW.total_seconds())} s of it.")
        credential = credential_for_serial(headers[signing.HEADER_SERIAL])
        if credential is None:
            raise SignatureInvalid()  # an unknown serial looks like a wrong signature: nothing to learn
        if credential.locker.status == Locker.Status.DECOMMISSIONED:
            raise LockerDecommissioned()
        secrets = secrets_for_signature(credential)
        if credential.revoked_at is not None or not secrets:
            raise LockerRevoked()
        raw = request._request  # the signature covers the exact bytes and path that arrived
        signed = {
            "method": raw.method or "",
            "path": raw.get_full_path(),
            "timestamp": timestamp,
            "nonce": headers[signing.HEADER_NONCE],
            "body": raw.body,
        }
        signature = headers[signing.HEADER_SIGNATURE]
        if not any(signing.signature_matches(secret=secret, signature=signature, **signed) for secret in secrets):
            raise SignatureInvalid()
        _nonce_record(credential.locker, headers[signing.HEADER_NONCE], now)
        return Device(locker=credential.locker, credential=credential), credential


# What a signed request needs of its credential, locker and site; other fields load on access.
_CREDENTIAL_ROW = (
    rows.Part(DeviceCredential, "c", ("id", "locker_id", "secret_encrypted", "previous_secret_encrypted",
                                      "previous_valid_until", "rotation_requested_at", "revoked_at")),
    rows.Part(Locker, "l", ("id", "site_id", "serial_number", "status", "last_event_sequence")),
    rows.Part(Site, "s", ("id", "time_zone")),
)


@functools.cache
def _credential_sql() -> str:
    credential, locker, site = _CREDENTIAL_ROW
    return (f"SELECT {rows.select_list(_CREDENTIAL_ROW)} FROM {credential.table} "
            f"JOIN {locker.table} ON {locker.col('id')} = {credential.col('locker')} "
            f"JOIN {site.table} ON {site.col('id')} = {locker.col('site')} "
            f"WHERE {locker.col('serial_number')} = %s")


def credential_for_serial(serial: str) -> DeviceCredential | None:
    """The locker's credential with its locker and site, or None: the first query of every device request.

    Written out (`lockers_site.rows`): the ORM's compilation of this join cost more CPU
    than the query itself.
    """
    found = rows.fetch(_credential_sql(), [serial], _CREDENTIAL_ROW)
    if not found:
        return None
    credential, locker, site = found[0]
    locker.site = site
    credential.locker = locker
    return credential


def _nonce_record(locker: Locker, nonce: str, now: datetime) -> None:
    """Remember the nonce; its unique (locker, nonce) row refuses a replay, even a racing one.

    Every device request writes one, so the insert is written out (`lockers_site.rows`)
    and runs alone: one round trip instead of three with its own BEGIN and COMMIT.
    """
    try:
        with rows.alone():
            rows.insert(DeviceNonce, {"locker": locker.pk, "nonce": nonce, "seen_at": now})
    except IntegrityError as error:
        raise NonceReused() from error


def device_nonces_purge() -> int:
    """Forget nonces too old to pass the clock check anyway. Returns how many were deleted."""
    deleted, _ = DeviceNonce.objects.filter(seen_at__lt=timezone.now() - NONCE_RETENTION).delete()
    return deleted


class DeviceSignatureScheme(OpenApiAuthenticationExtension):
    target_class = DeviceSignatureAuthentication
    name = "lockerSignature"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": signing.HEADER_SIGNATURE,
                "description": "HMAC-SHA256 request signature with X-Locker-Serial, -Timestamp and -Nonce: "
                               "see docs/device-protocol.md."}


class IsDevice(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.user, Device)
