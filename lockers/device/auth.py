"""DRF authentication for locker devices: every request signed with the locker's own secret.

Checks, in order, and each refusal changes nothing: the four headers are there, the
timestamp is within CLOCK_SKEW of the server clock, the locker is known, active and
not revoked, the signature matches (constant-time), and the nonce was not seen before.
Where the credential is read and the nonce remembered is the store's business
(`store`: the database, or Redis with credentials cached per worker); either refuses
a replay even between racing requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from lockers.models import DeviceCredential, DeviceNonce, Locker

from . import signing
from .errors import ClockSkew, LockerDecommissioned, LockerRevoked, SignatureInvalid, SignatureMissing
from .store import CLOCK_SKEW, NONCE_RETENTION, Found, device_store


@dataclass(frozen=True)
class Device:
    """The authenticated party of a device request (DRF's `request.user`)."""

    locker: Locker
    credential: DeviceCredential
    is_authenticated: bool = True


# The signed headers as WSGI environ keys.
_SIGNED_META = {name: "HTTP_" + name.upper().replace("-", "_") for name in signing.SIGNED_HEADERS}


class DeviceSignatureAuthentication(BaseAuthentication):
    def authenticate_header(self, request: Request) -> str:
        return f'{signing.SCHEME} realm="device"'

    def authenticate(self, request: Request) -> tuple[Device, DeviceCredential]:
        meta = request._request.META  # read directly: building request.headers cost a twentieth of a request
        headers = {name: meta.get(key, "").strip() for name, key in _SIGNED_META.items()}
        if not all(headers.values()) or not signing.nonce_is_well_formed(headers[signing.HEADER_NONCE]):
            raise SignatureMissing()
        timestamp = headers[signing.HEADER_TIMESTAMP]
        now = timezone.now()
        # At most 12 ASCII digits: int() of a huge numeral is slow and its float comparison overflows.
        well_formed = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
        if not well_formed or abs(now.timestamp() - int(timestamp)) > CLOCK_SKEW.total_seconds():
            raise ClockSkew(f"Server time is {int(now.timestamp())}; keep the locker clock within "
                            f"{int(CLOCK_SKEW.total_seconds())} s of it.")
        visit = device_store().visit(headers[signing.HEADER_SERIAL], headers[signing.HEADER_NONCE], now)
        refusal = _refusal(request, visit.found, headers, now)
        if refusal is not None:
            visit.refuse()
            raise refusal
        visit.accept()
        credential = visit.found.credential
        return Device(locker=credential.locker, credential=credential), credential


def _refusal(request: Request, found: Found | None, headers: dict[str, str],
             now: datetime) -> AuthenticationFailed | None:
    """Why this request is refused, in the order a device is told: None if it is authentic (but for its nonce)."""
    if found is None:
        return SignatureInvalid()  # an unknown serial looks like a wrong signature: nothing to learn
    if found.credential.locker.status == Locker.Status.DECOMMISSIONED:
        return LockerDecommissioned()
    secrets = found.secrets.valid_at(now)
    if found.credential.revoked_at is not None or not secrets:
        return LockerRevoked()
    raw = request._request  # the signature covers the exact bytes and path that arrived
    signed = {
        "method": raw.method or "",
        "path": raw.get_full_path(),
        "timestamp": headers[signing.HEADER_TIMESTAMP],
        "nonce": headers[signing.HEADER_NONCE],
        "body": raw.body,
    }
    signature = headers[signing.HEADER_SIGNATURE]
    if not any(signing.signature_matches(secret=secret, signature=signature, **signed) for secret in secrets):
        return SignatureInvalid()
    return None


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
