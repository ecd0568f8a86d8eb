"""A locker's credential: one-time provisioning, its secret at rest, rotation and revocation.

The device signs with its secret, so the server must be able to recover the secret
itself (a one-way hash would not let it check an HMAC). It is therefore stored
AES-GCM encrypted under a key derived from settings.CODE_PEPPER, which lives outside
the database, with the locker's id as associated data: a database dump alone cannot
sign as any locker, and a ciphertext copied onto another locker's row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lockers.models import DeviceCredential, Locker
from parcels.codes import keyed_hash

from .errors import ProvisioningRefused
from .trust import device_trust_forget, device_trust_forget_lockers

PROVISIONING_TOKEN_TTL = timedelta(hours=24)
# The old secret keeps working this long after a rotation, for requests already in flight.
ROTATION_GRACE = timedelta(minutes=5)
SECRET_BYTES = 32


def _cipher() -> AESGCM:
    key = hmac.new(settings.CODE_PEPPER.encode(), b"device-secret-encryption", hashlib.sha256).digest()
    return AESGCM(key)


def _aad(locker_id: int) -> bytes:
    return f"locker:{locker_id}".encode()


def secret_encrypt(*, locker_id: int, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = _cipher().encrypt(nonce, secret.encode(), _aad(locker_id))
    return base64.b64encode(nonce + sealed).decode()


def secret_decrypt(*, locker_id: int, sealed: str) -> str | None:
    """The plain secret, or None if `sealed` is empty or does not belong to this locker."""
    if not sealed:
        return None
    raw = base64.b64decode(sealed)
    try:
        return _cipher().decrypt(raw[:12], raw[12:], _aad(locker_id)).decode()
    except InvalidTag:
        return None


@dataclass(frozen=True)
class Secrets:
    """A credential's secrets, decrypted once; which of them a request may be signed with depends on the time."""

    current: str | None
    previous: str | None
    previous_valid_until: datetime | None

    def valid_at(self, now: datetime) -> list[str]:
        """Current, then a rotated-out one still in its grace period."""
        in_grace = self.previous_valid_until is not None and self.previous_valid_until > now
        return [secret for secret in (self.current, self.previous if in_grace else None) if secret]


def credential_secrets(credential: DeviceCredential) -> Secrets:
    previous = None
    if credential.previous_valid_until is not None:
        previous = secret_decrypt(locker_id=credential.locker_id, sealed=credential.previous_secret_encrypted)
    return Secrets(current=secret_decrypt(locker_id=credential.locker_id, sealed=credential.secret_encrypted),
                   previous=previous, previous_valid_until=credential.previous_valid_until)


def _token_hash(token: str) -> str:
    return keyed_hash("device-provisioning", token.strip())


def device_provisioning_issue(*, locker: Locker) -> str:
    """Issue a one-time provisioning token for `locker` (shown once to the operator).

    The token is stored only as a keyed hash and expires after PROVISIONING_TOKEN_TTL.
    A locker's current secret, if any, keeps working until the token is exchanged.
    """
    token = secrets.token_urlsafe(32)
    DeviceCredential.objects.update_or_create(
        locker=locker,
        defaults={
            "provisioning_token_hash": _token_hash(token),
            "provisioning_expires_at": timezone.now() + PROVISIONING_TOKEN_TTL,
        },
    )
    return token


def device_provisioning_exchange(*, serial_number: str, token: str) -> str:
    """Exchange a provisioning token for the locker's new secret, once.

    One conditional update clears the token, so two racing exchanges cannot both get
    a secret. Raises `ProvisioningRefused` for an unknown, used or expired token, a
    token of another locker, or a decommissioned locker; nothing changes then.
    """
    now = timezone.now()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        credential = (
            DeviceCredential.objects.select_related("locker")
            .filter(locker__serial_number=serial_number, locker__status=Locker.Status.ACTIVE)
            .first()
        )
        if credential is None or not token:
            raise ProvisioningRefused("This provisioning token is not valid for this locker.")
        taken = DeviceCredential.objects.filter(
            pk=credential.pk, provisioning_token_hash=_token_hash(token), provisioning_expires_at__gt=now
        ).update(
            provisioning_token_hash="",
            provisioning_expires_at=None,
            secret_encrypted=secret_encrypt(locker_id=credential.locker_id, secret=secret),
            previous_secret_encrypted="",
            previous_valid_until=None,
            secret_issued_at=now,
            rotation_requested_at=None,
            revoked_at=None,
        )
        if not taken:
            raise ProvisioningRefused("This provisioning token is not valid for this locker.")
        device_trust_forget([serial_number])
    return secret


def device_secret_rotate(*, credential: DeviceCredential) -> str:
    """Give the locker a new secret (it asked, signed with its current one). The old one works for ROTATION_GRACE."""
    now = timezone.now()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        current = DeviceCredential.objects.select_for_update().get(pk=credential.pk)
        current.previous_secret_encrypted = current.secret_encrypted
        current.previous_valid_until = now + ROTATION_GRACE
        current.secret_encrypted = secret_encrypt(locker_id=current.locker_id, secret=secret)
        current.secret_issued_at = now
        current.rotation_requested_at = None
        current.save(update_fields=["previous_secret_encrypted", "previous_valid_until", "secret_encrypted",
                                    "secret_issued_at", "rotation_requested_at"])
    return secret


def device_rotation_request(*, locker_ids: list[int]) -> int:
    """Ask these lockers to rotate their secret at their next heartbeat. Returns how many were asked."""
    with transaction.atomic():
        asked = DeviceCredential.objects.filter(locker_id__in=locker_ids, revoked_at__isnull=True).exclude(
            secret_encrypted=""
        ).update(rotation_requested_at=timezone.now())
        device_trust_forget_lockers(locker_ids)  # a queryset update sends no signal (see store)
    return asked



def device_credential_revoke(*, locker_ids: list[int]) -> int:
    """Lock these lockers out at once: secrets and any pending provisioning token are wiped.

    A revoked locker comes back only through a new provisioning token. Returns how many
    changed. With Redis, fails and changes nothing if the workers cannot be told.
    """
    with transaction.atomic():
        revoked = DeviceCredential.objects.filter(locker_id__in=locker_ids, revoked_at__isnull=True).update(
            revoked_at=timezone.now(),
            secret_encrypted="",
            previous_secret_encrypted="",
            previous_valid_until=None,
            provisioning_token_hash="",
            provisioning_expires_at=None,
            rotation_requested_at=None,
        )
        device_trust_forget_lockers(locker_ids)  # a queryset update sends no signal (see store)
    return revoked
