"""Idempotency keys (IETF draft "The Idempotency-Key HTTP Header Field").

The same key with the same request replays the first answer; with another request it
is 422; while the first request still runs it is 409. A key's row is claimed and
committed before the work starts, in a transaction of its own, so the claim holds
whatever the business transaction does and a racing twin sees it at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IdempotencyKey, Partner

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claim:
    """A key's row: `fresh` if this request claimed it, else it holds the answer to replay."""

    row: IdempotencyKey
    fresh: bool


class KeyInUse(Exception):
    """The first request with this key is still running."""


class KeyReused(Exception):
    """This key was first used for a different request."""


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\x00".join([method.upper().encode(), path.encode(), body])).hexdigest()


def _expired_before(now: datetime) -> datetime:
    return now - settings.IDEMPOTENCY_KEY_TTL


def _abandoned_before(now: datetime) -> datetime:
    return now - settings.IDEMPOTENCY_LOCK_TIMEOUT


def idempotency_key_claim(*, partner: Partner, key: str, fingerprint: str) -> Claim:
    """Claim `key` for this request, or return its finished answer for replay.

    Raises `KeyReused` (another request used it first) or `KeyInUse` (the first
    request is still running). An expired key, or a claim whose request died without
    answering, is taken over.
    """
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic(durable=True):
                row = IdempotencyKey.objects.create(partner=partner, key=key, fingerprint=fingerprint)
            return Claim(row=row, fresh=True)
        except IntegrityError:
            row = IdempotencyKey.objects.filter(partner=partner, key=key).first()
        if row is None:
            continue  # purged between our insert and our read: claim again
        if row.created_at < _expired_before(now) or (
            row.state == IdempotencyKey.State.IN_PROGRESS and row.created_at < _abandoned_before(now)
        ):
            # Only the request that deletes the stale row gets to claim it again.
            if IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()[0]:
                continue
            raise KeyInUse()
        if row.fingerprint != fingerprint:
            raise KeyReused()
        if row.state == IdempotencyKey.State.IN_PROGRESS:
            raise KeyInUse()
        return Claim(row=row, fresh=False)
    raise KeyInUse()


def idempotency_key_complete(*, row: IdempotencyKey, status: int, body: str, content_type: str) -> None:
    """Store the answer to replay for later requests with the same key."""
    IdempotencyKey.objects.filter(pk=row.pk).update(
        state=IdempotencyKey.State.DONE, response_status=status, response_body=body,
        response_content_type=content_type,
    )


def idempotency_key_release(*, row: IdempotencyKey) -> None:
    """Forget a claim whose request failed unexpectedly, so the client may retry with the key."""
    IdempotencyKey.objects.filter(pk=row.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete keys past their time to live (at least 24 hours). Returns how many."""
    cutoff = _expired_before(now or timezone.now())
    return IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()[0]

