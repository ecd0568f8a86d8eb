"""The offline bundle: what a locker needs to let recipients collect while its link is down.

For each live pickup code with parcels waiting in this locker the bundle holds
HMAC(bundle_key, pin) and HMAC(bundle_key, qr_token) with the doors they open and
until when; never a plain code. The bundle key is HMAC(CODE_PEPPER, "bundle:" + serial
+ ":" + version) and travels with the bundle, so the locker can hash what is typed
the same way. The version is a digest of what the bundle holds, so it changes
exactly when a code or a door changes, and a new version has a new key.

On PostgreSQL a heartbeat does not take the digest again while nothing it covers has
changed: triggers log every such change per site (`BundleChange`), and each locker's
last version is kept with the sum of its site's log it was taken at (`BundleDigest`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from lockers.models import BundleChange, BundleDigest, Compartment, Locker
from lockers_site import rows
from parcels.models import Parcel, ParcelStatus, PickupCode
from parcels.services import code_secrets

from . import signing


def _waiting(locker: Locker):
    return Parcel.objects.filter(
        status=ParcelStatus.READY_FOR_PICKUP,
        compartment__locker=locker,
        pickup_code__state=PickupCode.State.LIVE,
        pickup_code__purpose=PickupCode.Purpose.PICKUP,
        # A code opens doors at its own site only (the keypad's look-up is per site).
        pickup_code__site=F("compartment__locker__site"),
    )


_PARCEL = rows.Part(Parcel, "p")
_DOOR = rows.Part(Compartment, "d")
_CODE = rows.Part(PickupCode, "k")
_LOCKER = rows.Part(Locker, "l")


@functools.lru_cache(maxsize=8)
def _entries_text(locker: str) -> str:
    # Per door of the locker, its id and its waiting parcel's (code, parcel, door, deadline)
    # as one string: a door holds one parcel at most (`parcel_one_per_compartment`), so the
    # subquery is one probe of the parcels' door index per door. As a join, PostgreSQL
    # hash-joined the doors to every ready parcel of the network instead (1.4 of a
    # heartbeat's 2.3 ms of database time on the bench database). The deadline as text:
    # the digest needs it only to change when the deadline does.
    entry = " || ':' || ".join([_PARCEL.col("pickup_code"), _PARCEL.col("id"), _PARCEL.col("compartment"),
                                f"COALESCE(CAST({_PARCEL.col('pickup_deadline')} AS TEXT), '')"])
    return (f"SELECT {_DOOR.col('id')} AS door_id, (SELECT {entry} FROM {_PARCEL.table} "
            f"JOIN {_CODE.table} ON {_CODE.col('id')} = {_PARCEL.col('pickup_code')} "
            f"WHERE {_PARCEL.col('compartment')} = {_DOOR.col('id')} AND {_PARCEL.col('status')} = %s "
            f"AND {_CODE.col('state')} = %s AND {_CODE.col('purpose')} = %s "
            f"AND {_CODE.col('site')} = {_LOCKER.col('site')}) AS entry "
            f"FROM {_DOOR.table} JOIN {_LOCKER.table} ON {_LOCKER.col('id')} = {_DOOR.col('locker')} "
            f"WHERE {_DOOR.col('locker')} = {locker}")


def _entries_sql(locker: rows.Sql) -> rows.Sql:
    # The constants stay bound (unlike the code look-up's): written into the SQL they let
    # PostgreSQL plan a scan of the partial index of every ready parcel in the network
    # (5d1e28e: 4 ms a heartbeat on the bench database).
    params = (ParcelStatus.READY_FOR_PICKUP, PickupCode.State.LIVE, PickupCode.Purpose.PICKUP, *locker.params)
    return rows.Sql(_entries_text(locker.text), params)


def digest_source_sql(locker: rows.Sql) -> rows.Sql:
    """An expression for what the digest of `bundle_version` is taken of, as one text (PostgreSQL).

    Its digest in SQL (`_version_sql`) is what `version_of` gives in Python. NULL when
    nothing waits.
    """
    entries = _entries_sql(locker)
    return rows.Sql(f"(SELECT string_agg(entry || ';', '' ORDER BY door_id) FROM ({entries.text}) entries)",
                    entries.params)


def version_of(source: str | None) -> str:
    """The bundle version for the text `digest_source_sql` selects (`_version_sql` in SQL)."""
    return hashlib.sha256((source or "").encode()).hexdigest()[:20]


def _version_sql(source: rows.Sql) -> rows.Sql:
    return rows.Sql(f"left(encode(sha256(convert_to(COALESCE({source.text}, ''), 'UTF8')), 'hex'), 20)",
                    source.params)


# A kept version is taken again at least this often whatever the log says: the bound on a
# parcel change whose trigger read its door's site in the instant its locker moved to
# another site (or its door to another locker), the only change a site-keyed log can file
# under the wrong site.
KEPT_VERSION_MAX_AGE_SECONDS = 600


@functools.cache
def _digest_format() -> str:
    """Part of every mark: a deployment that changes what the digest covers takes every digest again."""
    return hashlib.sha256(_entries_text("%s").encode()).hexdigest()[:8]


_CHANGE = rows.Part(BundleChange, "c")
_KEPT = rows.Part(BundleDigest, "b")


@functools.cache
def _kept_version_texts() -> tuple[str, str, str, str]:
    # OFFSET 0 keeps the mark a subquery of its own: pulled up into `bundle`, its sum was
    # computed once for each of the three places that name it.
    mark = (f"SELECT %s || ':' || {_LOCKER.col('site')} || ':' || COALESCE((SELECT sum({_CHANGE.col('weight')}) "
            f"FROM {_CHANGE.table} WHERE {_CHANGE.col('site_id')} = {_LOCKER.col('site')}), 0) || ':' || "
            f"floor(extract(epoch FROM statement_timestamp()) / %s) AS mark "
            f"FROM {_LOCKER.table} WHERE {_LOCKER.col('id')} = %s OFFSET 0")
    kept = (f"SELECT {_KEPT.col('mark')}, {_KEPT.col('version')} FROM {_KEPT.table} "
            f"WHERE {_KEPT.col('locker_id')} = %s")
    # The digest is taken (an InitPlan, run on first use) only when the marks differ.
    version = ("SELECT now_.mark, CASE WHEN kept_.mark = now_.mark THEN kept_.version ELSE {digest} END AS version, "
               "kept_.mark IS NOT DISTINCT FROM now_.mark AS kept "
               "FROM bundle_mark now_ LEFT JOIN bundle_kept kept_ ON true")
    columns = ", ".join(rows.column(BundleDigest, name) for name in ("locker_id", "mark", "version"))
    # {written}: the locker's id as the statement's own write of its row returns it, NULL if
    # the row is gone (the mark, read from the snapshot, may still have found it).
    note = (f"INSERT INTO {rows.table_name(BundleDigest)} ({columns}) SELECT {{written}}, mark, version FROM bundle "
            f"WHERE NOT kept AND {{written}} IS NOT NULL ON CONFLICT ({rows.column(BundleDigest, 'locker_id')}) "
            f"DO UPDATE SET "
            f"{rows.column(BundleDigest, 'mark')} = EXCLUDED.{rows.column(BundleDigest, 'mark')}, "
            f"{rows.column(BundleDigest, 'version')} = EXCLUDED.{rows.column(BundleDigest, 'version')}")
    return mark, kept, version, note


def kept_version_parts(locker_id: int, written: rows.Sql) -> dict[str, rows.Sql]:
    """CTEs for a statement that answers the bundle version (PostgreSQL): `bundle` has one row, `version`.

    The version kept for the locker is used if its mark (the digest's format, the
    locker's site, the sum of the site's change log, the period of
    KEPT_VERSION_MAX_AGE_SECONDS) is the mark now; otherwise the digest is taken and
    kept with the new mark. Every part reads one snapshot, and a change's log row
    commits with the change: a version kept under a mark is the one of any snapshot
    with that mark. Two heartbeats keeping versions at once leave one of two true pairs.
    `written` is the locker's id as returned by the statement's write of its row.
    """
    mark_text, kept_text, version_text, note_text = _kept_version_texts()
    source = digest_source_sql(rows.Sql("%s", (locker_id,)))
    version = _version_sql(source)
    return {
        "bundle_mark": rows.Sql(mark_text, (_digest_format(), KEPT_VERSION_MAX_AGE_SECONDS, locker_id)),
        "bundle_kept": rows.Sql(kept_text, (locker_id,)),
        "bundle": rows.Sql(version_text.format(digest=version.text), version.params),
        "bundle_noted": rows.Sql(note_text.format(written=written.text), (*written.params, *written.params)),
    }


def bundle_version(locker: Locker) -> str:
    """A digest of the (code, parcel, door, deadline) rows the bundle holds; one query, no secrets.

    It selects what `_waiting` does. Every heartbeat asks, so the query is written out
    (`lockers_site.rows`); the entries are joined in door order as `digest_source_sql`
    joins them, so both give one version.
    """
    entries = _entries_sql(rows.Sql("%s", (locker.pk,)))
    found = sorted(rows.execute(entries.text, entries.params))
    # A door with no parcel waiting behind a live code has no entry.
    return version_of("".join(f"{entry};" for _, entry in found if entry is not None))


def bundle_key(locker: Locker, version: str) -> str:
    message = f"bundle:{locker.serial_number}:{version}".encode()
    return hmac.new(settings.CODE_PEPPER.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Bundle:
    version: str
    key: str
    generated_at: datetime
    entries: list[dict[str, Any]]


def offline_bundle(locker: Locker) -> Bundle:
    """The bundle for `locker` now: one entry per live pickup code, with its doors and deadline."""
    version = bundle_version(locker)
    key = bundle_key(locker, version)
    by_code: dict[int, dict[str, Any]] = {}
    parcels = _waiting(locker).select_related("pickup_code", "compartment").order_by("pk")
    for parcel in parcels:
        entry = by_code.get(parcel.pickup_code_id)
        if entry is None:
            pin, qr_token = code_secrets(parcel.pickup_code)
            entry = by_code[parcel.pickup_code_id] = {
                "pin_hash": signing.bundle_pin_hash(key, pin),
                "qr_hash": signing.bundle_qr_hash(key, qr_token),
                "doors": [],
                "valid_until": parcel.pickup_deadline,
            }
        entry["doors"].append({"door": parcel.compartment.label, "parcel_id": parcel.pk})
        # One code for several parcels stops working offline at the earliest of their deadlines.
        entry["valid_until"] = min(entry["valid_until"], parcel.pickup_deadline)
    return Bundle(version=version, key=key, generated_at=timezone.now(), entries=list(by_code.values()))
