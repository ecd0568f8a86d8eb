"""Writes and look-ups of partner API keys.

A key looks like ``olk_<prefix>_<secret>``: the prefix is shown in lists so people can
tell keys apart; the whole key is hashed for storage and shown only once, when made.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .models import ApiKey, Partner

KEY_PREFIX = "olk"
# Writing last_used_at on every request would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


class InvalidScopes(ValueError):
    """Scopes outside read, write and webhooks, or none at all."""


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plain: str


def _hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def api_key_create(*, partner: Partner, name: str, scopes: list[str]) -> IssuedKey:
    """Make a key for `partner`; the plain key is in the result and nowhere else.

    Raises `InvalidScopes` for an empty or unknown scope list.
    """
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if not scopes or unknown:
        raise InvalidScopes(f"Scopes must be some of {', '.join(ApiKey.Scope.values)}.")
    prefix = secrets.token_hex(4)
    plain = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        partner=partner, name=name, prefix=prefix, secret_hash=_hash(plain),
        scopes=[scope for scope in ApiKey.Scope.values if scope in scopes],
    )
    return IssuedKey(api_key=api_key, plain=plain)


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke a key from now on; True if it was live. Revoking twice is harmless."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return bool(revoked)


def api_key_authenticate(plain: str) -> ApiKey | None:
    """The live key `plain` names (with its partner), or None. Records when it was last used."""
    api_key = ApiKey.objects.live().select_related("partner").filter(secret_hash=_hash(plain)).first()
    if api_key is None:
        return None
    now = timezone.now()
    stale_before = now - LAST_USED_PRECISION
    if api_key.last_used_at is not None and api_key.last_used_at >= stale_before:
        return api_key  # the row just read is fresh enough: no statement at all
    # Conditional, so that of the requests racing at a minute's turn only one writes.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before)
    if ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now):
        api_key.last_used_at = now
    return api_key
