"""Wrong-code limits for a locker's keypad, counted in the database under a row lock.

A typed code's outcome is acted on only in a turn ordered among the others by the
locker's guard row's lock: `SELECT ... FOR UPDATE` inside the transaction that records
the outcome (`keypad_turn_take`), or, for a right code at a keypad it leaves unchanged,
a key-share lock taken without waiting by the one statement that uses the code
(`keypad_turn_peek`). The turn is refused once the day's budget of wrong codes is spent
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

`keypad_turn_peek` reads the guard with the look-up and takes no lock: a right code at a
keypad that it would leave unchanged (not refused, no streak to clear, the same day)
writes no guard row, so its turn needs neither the lock nor a transaction. Anything else
takes a turn as above, a wrong code included: a peek never answers.

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


def _local_day(locker: Locker, now: datetime) -> date:
    return now.astimezone(locker.site.tz).date()


def _end_of_local_day(locker: Locker, now: datetime) -> datetime:
    tomorrow = _local_day(locker, now) + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=locker.site.tz)


@dataclass
class KeypadTurn:
    """One typed code's turn at a locker's keypad: holding the guard row's lock when taken
    (`keypad_turn_take`), judged on the row as read when peeked (`keypad_turn_peek`)."""

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
def _guard_sql(lookup: str, *, lock: bool = True) -> str:
    (guard,) = _GUARD
    where = f"WHERE {guard.col('locker')} = %s"
    if lookup:  # PostgreSQL: the look-up's rows joined to the one guard row, which alone is locked
        locking = f" FOR UPDATE OF {guard.alias}" if lock else ""
        return (f"SELECT {rows.select_list(_GUARD)}, found.* FROM {guard.table} LEFT JOIN ({lookup}) found ON true "
                f"{where}{locking}")
    # SQLite has no row locks: its transactions begin IMMEDIATE (settings.py), so a
    # turn holds the database's write lock from its first statement instead.
    locking = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    return f"SELECT {rows.select_list(_GUARD)} FROM {guard.table} {where}{locking}"


def _guard_locked(locker: Locker, lookup: rows.Sql | None, *,
                  optimistic: bool) -> tuple[KeypadGuard, list[tuple[Any, ...]] | None]:
    """The locked guard row, and on PostgreSQL the rows of `lookup` read by the same statement (else None)."""
    # Written out (`lockers_site.rows`): every typed code takes this lock first.
    together = optimistic and lookup is not None and connection.vendor == "postgresql"
    sql, params = (_guard_sql(lookup.text), [*lookup.params, locker.pk]) if together else (_guard_sql(""), [locker.pk])
    found = rows.execute(sql, params)
    if not found:  # the locker's first typed code: create the row, then lock it like any other
        KeypadGuard.objects.get_or_create(locker=locker, defaults={"day": _local_day(locker, timezone.now())})
        found = rows.execute(sql, params)
    guard, looked_up = _guard_and_looked_up(found)
    return guard, looked_up if together else None


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


@dataclass(frozen=True)
class KeypadPeek:
    """What a peek found: the look-up's rows, and the condition the code's use must hold under."""

    looked_up: list[tuple[Any, ...]]
    # A SELECT of one row while the guard is as the peek read it and no turn holds its lock,
    # key-share locking the row for the rest of the statement's transaction.
    unchanged: rows.Sql


def keypad_turn_peek(*, locker: Locker, lookup: rows.Sql) -> KeypadPeek | None:
    """PostgreSQL: `lookup`'s rows if a right code's turn would neither be refused nor change the
    guard, read with the guard in one statement that takes no lock; None otherwise.

    For a code whose use is one statement that re-checks what it found
    (`parcels.services._code_opening`): that statement must write nothing unless the
    peek's `unchanged` returns its row. It skips a guard row that a turn has locked
    (never waits), so the use is ordered before or after every turn by the lock: a
    right code is then a turn at a keypad that it leaves unchanged, and writes no guard
    row. None (no guard row yet, a refusal, a streak to clear or a new day to write) and
    an empty look-up (a wrong code) must take a turn (`keypad_turn_take`), which counts
    it; what a peek found is never the answer by itself.
    """
    found = rows.execute(_guard_sql(lookup.text, lock=False), [*lookup.params, locker.pk])
    if not found:
        return None
    guard, looked_up = _guard_and_looked_up(found)
    turn = _turn_judged(locker, guard, timezone.now())
    _clear_streak(turn)
    if turn.refused or turn.changed:
        return None
    return KeypadPeek(looked_up, _guard_unchanged(guard))


def _guard_unchanged(guard: KeypadGuard) -> rows.Sql:
    (part,) = _GUARD
    values = [(guard_field, getattr(guard, guard_field.attname)) for guard_field in part.fields]
    null = tuple(guard_field.attname for guard_field, value in values if value is None)
    params = tuple(guard_field.get_db_prep_value(value, connection) for guard_field, value in values
                   if value is not None)
    return rows.Sql(_guard_unchanged_sql(null), params)


@functools.lru_cache(maxsize=4)
def _guard_unchanged_sql(null: tuple[str, ...]) -> str:
    (part,) = _GUARD
    conditions = " AND ".join(f"{part.col(guard_field.name)} IS NULL" if guard_field.attname in null
                              else f"{part.col(guard_field.name)} = %s" for guard_field in part.fields)
    return f"SELECT 1 FROM {part.table} WHERE {conditions} FOR KEY SHARE OF {part.alias} SKIP LOCKED"


def _turn_judged(locker: Locker, guard: KeypadGuard, now: datetime) -> KeypadTurn:
    """The turn the guard gives a typed code at `now`: refused or not, with the counters it moves."""
    turn = KeypadTurn(guard=guard, now=now, changed=set())
    today = _local_day(locker, now)
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
