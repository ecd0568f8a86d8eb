"""Exponential backoff for retried deliveries (webhooks, notifications)."""

from __future__ import annotations

from datetime import datetime, timedelta


def retry_delay(attempts: int, *, base_seconds: float, cap_seconds: float) -> timedelta:
    """Wait after `attempts` failed tries: base, 2 base, 4 base... never more than the cap."""
    # min() before the power keeps a huge attempt count from making a huge integer.
    doublings = max(attempts - 1, 0)
    seconds = base_seconds * 2 ** min(doublings, 64)
    return timedelta(seconds=min(seconds, cap_seconds))


def next_attempt_at(attempts: int, now: datetime, *, base_seconds: float, cap_seconds: float) -> datetime:
    """When try number `attempts + 1` is due."""
    return now + retry_delay(attempts, base_seconds=base_seconds, cap_seconds=cap_seconds)
