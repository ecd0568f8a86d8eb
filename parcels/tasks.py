"""django-q2 entry points for the lifecycle's time rules. Each is idempotent and safe
to run twice at once: every change goes through a locked, status-checked transition."""

from __future__ import annotations

from . import services


def holds_release() -> int:
    return services.holds_release_expired()


def parcels_expire() -> int:
    return services.parcels_expire_due()
