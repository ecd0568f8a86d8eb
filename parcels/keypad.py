"""Wrong-code limits for a locker's keypad, counted atomically in the database.

Every typed code first takes one unit of the locker's daily budget of wrong codes
with a single conditional UPDATE, and only then is compared. A correct code gives
the unit back. So however many requests race, no more than KEYPAD_DAILY_WRONG_CAP
wrong codes are ever tested at one locker in one day: the bound docs/security.md
relies on.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lockers.models import Locker

from .codes import KEYPAD_DAILY_WRONG_CAP, KEYPAD_FIRST_BACKOFF_SECONDS, KEYPAD_FREE_TRIES, KEYPAD_MAX_BACKOFF_SECONDS
from .errors import KeypadLocked
from .models import KeypadGuard


def _local_day(locker: Locker, now: datetime) -> date:
    return now.astimezone(locker.site.tz).date()


def _end_of_local_day(locker: Locker, now: datetime) -> datetime:
    tomorrow = _local_day(locker, now) + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=locker.site.tz)


def _guard_for_today(locker: Locker, now: datetime) -> KeypadGuard:
    today = _local_day(locker, now)
    guard, _ = KeypadGuard.objects.get_or_create(locker=locker, defaults={"day": today})
    if guard.day != today:
        # A new local day: conditional reset, so two racing resets do the work once.
        KeypadGuard.objects.filter(pk=guard.pk, day=guard.day).update(
            day=today, failures_today=0, refused_today=0, consecutive_failures=0, locked_until=None
        )
    return guard


def keypad_take_attempt(*, locker: Locker) -> None:
    """Take one unit of today's wrong-code budget before a typed code is compared.

    Raises `KeypadLocked` (and counts the refusal) while the keypad backs off or once
    the day's budget is spent.
    """
    now = timezone.now()
    guard = _guard_for_today(locker, now)
    taken = KeypadGuard.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=guard.pk,
        failures_today__lt=KEYPAD_DAILY_WRONG_CAP,
    ).update(failures_today=F("failures_today") + 1, consecutive_failures=F("consecutive_failures") + 1)
    if taken:
        return
    KeypadGuard.objects.filter(pk=guard.pk).update(refused_today=F("refused_today") + 1)
    guard.refresh_from_db()
    until = guard.locked_until or _end_of_local_day(locker, now)
    if guard.failures_today >= KEYPAD_DAILY_WRONG_CAP:
        until = max(until, _end_of_local_day(locker, now))
    raise KeypadLocked("Too many wrong codes at this locker. Try again later or scan your QR code.", until=until)


def keypad_attempt_succeeded(*, locker: Locker) -> None:
    """The typed code was right: give back the unit it took and clear the streak."""
    KeypadGuard.objects.filter(locker=locker).update(
        failures_today=F("failures_today") - 1, consecutive_failures=0, locked_until=None
    )


def keypad_attempt_failed(*, locker: Locker) -> None:
    """The typed code was wrong (its unit stays spent); back off after a streak."""
    with transaction.atomic():
        guard = KeypadGuard.objects.select_for_update().get(locker=locker)
        over = guard.consecutive_failures - KEYPAD_FREE_TRIES
        if over >= 0:
            seconds = min(KEYPAD_FIRST_BACKOFF_SECONDS * 2**over, KEYPAD_MAX_BACKOFF_SECONDS)
            guard.locked_until = timezone.now() + timedelta(seconds=seconds)
            guard.save(update_fields=["locked_until"])
