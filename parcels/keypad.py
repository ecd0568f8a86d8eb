"""Wrong-code limits for a locker's keypad, counted in the database under a row lock.

A typed code's outcome is acted on only in a turn ordered among the others by the
locker's guard row's lock: `SELECT ... FOR UPDATE` inside the transaction that records
the outcome (`keypad_turn_take`), or, for a right code at a keypad it leaves unchanged,
a key-share lock taken without waiting by the one statement that uses the code
(`keypad_left_unchanged`). The turn is refused once the day's budget of wrong codes is spent
or while the keypad backs off, and a wrong code is counted before the lock is released.
So however many requests race, no more than KEYPAD_DAILY_WRONG_CAP wrong codes are
ever tested at one locker in one day: the bound docs/security.md relies on.

With `optimistic` on PostgreSQL the code's look-up runs in that locking read
(`keypad_turn_take(lookup=, optimistic=True)`, one round trip for both), before the turn
is judged. A refused turn drops its rows unread, whatever they hold: it answers, counts
and takes the same steps as for any other code, and nothing compares, keeps or reveals
what was found. Its rows are read as of the statement's start, which may be before it
waited for the lock: the caller must check in its write that what it acts on is
unchanged, and check again without `optimistic` if not (`parcels.services._code_opening`).

`keypad_left_unchanged` is the condition under which a right code needs no turn: a
keypad that it would leave unchanged (not refused, no streak to clear, the same day)
and that no turn holds. The statement that uses such a code tests it, key-share
locking the guard row, and writes nothing otherwise; anything else takes a turn as
above, a wrong code included.

The caller owns the transaction and must let it commit whatever the outcome: a
refusal or a wrong code is raised only after the counters are stored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from lockers.models import Locker
from lockers_site import rows

from .codes import KEYPAD_DAILY_WRONG_CAP, KEYPAD_FIRST_BACKOFF_SECONDS, KEYPAD_FREE_TRIES, KEYPAD_MAX_BACKOFF_SECONDS
from .errors import KeypadLocked
from .models import KeypadGuard

KEYPAD_LOCKED_MESSAGE = "Too many wrong codes at this locker. Try again later or scan your QR code."


def keypad_day(locker: Locker, now: datetime) -> date:
    """The locker's local day at `now`: the day its guard counts wrong codes for."""
    return now.astimezone(locker.site.tz).date()


def _end_of_local_day(locker: Locker, now: datetime) -> datetime:
    tomorrow = keypad_day(locker, now) + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=locker.site.tz)


@dataclass
class KeypadTurn:
    """One typed code's turn at a locker's keypad, holding the guard row's lock (`keypad_turn_take`)."""

    guard: KeypadGuard
    now: datetime
    changed: set[str]
    locked_until: datetime | None = None  # set when the turn is refused
    looked_up: list[tuple[Any, ...]] = field(default_factory=list)  # the look-up's rows; none when refused

    @property
    def refused(self) -> bool:
        return self.locked_until is not None

    def refusal(self) -> KeypadLocked:
        return KeypadLocked(KEYPAD_LOCKED_MESSAGE, until=self.locked_until)


_GUARD = (rows.Part(KeypadGuard, "g"),)


@functools.lru_cache(maxsize=8)
def _guard_sql(lookup: str) -> str:
    (guard,) = _GUARD
    where = f"WHERE {guard.col('locker')} = %s"
    if lookup:  # PostgreSQL: the look-up's rows joined to the one guard row, which alone is locked
        return (f"SELECT {rows.select_list(_GUARD)}, found.* FROM {guard.table} LEFT JOIN ({lookup}) found ON true "
                f"{where} FOR UPDATE OF {guard.alias}")
    # SQLite has no row locks: its transactions begin IMMEDIATE (settings.py), so a
    # turn holds the database's write lock from its first statement instead.
    locking = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return f"SELECT {rows.select_list(_GUARD)} FROM {guard.table} {where}{locking}"


def _guard_locked(locker: Locker, lookup: rows.Sql | None, *,
                  optimistic: bool) -> tuple[KeypadGuard, list[tuple[Any, ...]] | None]:
    """The locked guard row, and on PostgreSQL the rows of `lookup` read by the same statement (else None)."""
    # Written out (`lockers_site.rows`): every typed code takes this lock first.
    together = optimistic and lookup is not None and connection.vendor == "postgresql"
    sql, params = (_guard_sql(lookup.text), [*lookup.params, locker.pk]) if together else (_guard_sql(""), [locker.pk])
    found = rows.execute(sql, params)
    if not found:  # the locker's first typed code: create the row, then lock it like any other
        keypad_guard_ensure(locker=locker)
        found = rows.execute(sql, params)
    guard, looked_up = _guard_and_looked_up(found)
    return guard, looked_up if together else None


def keypad_guard_ensure(*, locker: Locker) -> None:
    """The locker's guard row, created clean for its local day by the first code typed there (a no-op after)."""
    KeypadGuard.objects.get_or_create(locker=locker, defaults={"day": keypad_day(locker, timezone.now())})


def _guard_and_looked_up(found: list[tuple[Any, ...]]) -> tuple[KeypadGuard, list[tuple[Any, ...]]]:
    """The guard, and the look-up's rows, from the rows of the guard's statement joined to a look-up."""
    width = len(_GUARD[0].fields)
    (guard,) = rows.load_row(_GUARD, found[0][:width])
    # One row per row of the look-up, or one with its columns NULL (the outer join found nothing).
    return guard, [row[width:] for row in found if len(row) > width and row[width] is not None]


def keypad_turn_take(*, locker: Locker, lookup: rows.Sql | None = None, optimistic: bool = False) -> KeypadTurn:
    """Lock the locker's guard and say whether a typed code may be compared now.

    Call inside a transaction. A refused turn is counted (`refused_today`) and carries
    until when; `keypad_turn_settle` stores the counters either way.

    `lookup` is the SELECT that compares the code (its first column never NULL): a turn
    that is not refused carries its rows (`looked_up`). It runs once the lock is held,
    only for a turn that is not refused; `optimistic` on PostgreSQL, in the guard's
    locking statement instead, as of that statement's start, a refused turn dropping
    its rows unread (module docstring).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("A keypad turn holds its lock until the caller commits: call it inside a transaction.")
    guard, looked_up = _guard_locked(locker, lookup, optimistic=optimistic)
    # The clock is read once the lock is held: a request that waited for it must not
    # act on a time older than the turns before it (one read at 23:59:59 would reset
    # the next day's counters).
    turn = _turn_judged(locker, guard, timezone.now())
    if turn.refused:
        return turn  # what the look-up found, if it ran, goes unread
    if looked_up is None and lookup is not None:
        looked_up = rows.execute(lookup.text, lookup.params)
    turn.looked_up = looked_up or []
    return turn


def keypad_left_unchanged(*, locker_id: int | rows.Slot, day: date | rows.Slot) -> rows.Sql:
    """PostgreSQL: a SELECT of the locker's guard row while a right code's turn would neither be
    refused nor change it, key-share locking the row, and skipping it while a turn holds its lock.

    For a right code used by one statement without a transaction
    (`parcels.services._pickup_opened_alone`), which must write nothing unless this finds
    its row. It never waits for a turn, so the use is ordered before or after every turn
    by the lock: a right code is then a turn at a keypad that it leaves unchanged, and
    writes no guard row. A guard that a right code would change (a new day, a streak to
    clear), one that refuses, and none at all are not found: the code then takes a turn
    (`keypad_turn_take`), as a wrong code does, so this never answers by itself.

    The condition is what `_turn_judged` and `_clear_streak` do to a right code's turn,
    written in SQL; tests/test_code_check_statements.py holds the two to the same answers. `day` is the
    locker's local day now (`keypad_day`).
    """
    return rows.Sql(_left_unchanged_sql(), (locker_id, day))


@functools.cache
def _left_unchanged_sql() -> str:
    (guard,) = _GUARD
    # A guard dated after today keeps its counts (`_turn_judged` only moves forward).
    return (f"SELECT 1 FROM {guard.table} WHERE {guard.col('locker')} = %s AND {guard.col('day')} >= %s "
            f"AND {guard.col('failures_today')} < {KEYPAD_DAILY_WRONG_CAP:d} "
            f"AND {guard.col('consecutive_failures')} = 0 AND {guard.col('locked_until')} IS NULL "
            f"FOR KEY SHARE OF {guard.alias} SKIP LOCKED")


def _turn_judged(locker: Locker, guard: KeypadGuard, now: datetime) -> KeypadTurn:
    """The turn the guard gives a typed code at `now`: refused or not, with the counters it moves."""
    turn = KeypadTurn(guard=guard, now=now, changed=set())
    today = keypad_day(locker, now)
    if guard.day < today:  # only forward: a guard dated after this host's today keeps its counts
        guard.day, guard.failures_today, guard.refused_today = today, 0, 0
        guard.consecutive_failures, guard.locked_until = 0, None
        turn.changed |= {"day", "failures_today", "refused_today", "consecutive_failures", "locked_until"}
    backing_off = guard.locked_until is not None and guard.locked_until > now
    if backing_off or guard.failures_today >= KEYPAD_DAILY_WRONG_CAP:
        guard.refused_today += 1
        turn.changed.add("refused_today")
        until = guard.locked_until if backing_off else None
        if guard.failures_today >= KEYPAD_DAILY_WRONG_CAP:
            until = max(until or now, _end_of_local_day(locker, now))
        turn.locked_until = until
    return turn


def _count_wrong(turn: KeypadTurn) -> None:
    guard = turn.guard
    guard.failures_today += 1
    guard.consecutive_failures += 1
    turn.changed |= {"failures_today", "consecutive_failures"}
    over = guard.consecutive_failures - KEYPAD_FREE_TRIES
    if over >= 0:  # a streak: back off, doubling
        seconds = min(KEYPAD_FIRST_BACKOFF_SECONDS * 2**over, KEYPAD_MAX_BACKOFF_SECONDS)
        guard.locked_until = turn.now + timedelta(seconds=seconds)
        turn.changed.add("locked_until")


def _clear_streak(turn: KeypadTurn) -> None:
    guard = turn.guard
    if guard.consecutive_failures or guard.locked_until is not None:
        guard.consecutive_failures, guard.locked_until = 0, None
        turn.changed |= {"consecutive_failures", "locked_until"}


def keypad_turn_settle(*, turn: KeypadTurn, right: bool | None) -> None:
    """Store the turn's outcome: a wrong code is counted, a right one clears the streak.

    `right=None` for a refused turn (nothing was compared). Writes only what changed.
    """
    if turn.refused and right is not None:
        raise ValueError("A refused turn compared nothing: settle it with right=None.")
    if right is True:
        _clear_streak(turn)
    elif right is False:
        _count_wrong(turn)
    if turn.changed:
        turn.guard.save(update_fields=sorted(turn.changed))
