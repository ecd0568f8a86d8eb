"""The heartbeat's kept bundle versions (PostgreSQL): answered while nothing changed, taken again after any change.

Each change below is made the way it happens (a service, the expiry job, a raw
statement an operator might run), and the heartbeat must then answer the version
the full digest gives (`bundle_version`, the bundle endpoint's). A kept version is
told apart from a new digest by overwriting it with a value no digest gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import Sum

from lockers.device import bundle, heartbeat
from lockers.device.bundle import bundle_version
from lockers.models import BundleChange, BundleDigest, Locker
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, PickupCode
from parcels.services import code_secrets, parcel_extend, parcels_expire_due, pickup_code_verify
from tests.device_support import deposited
from tests.factories import LockerFactory, SiteFactory

pytest_plugins = ["tests.device_support"]
pytestmark = pytest.mark.postgres
NOT_A_DIGEST = "kept-not-taken"


def _answered(device) -> str:
    answer = device.post("heartbeat", {})
    assert answer.status_code == 200
    return answer.json()["bundle_version"]


def _keep_a_marker(locker: Locker) -> None:
    """Overwrite the kept version: a heartbeat answering it did not take the digest again."""
    assert BundleDigest.objects.filter(locker_id=locker.pk).update(version=NOT_A_DIGEST) == 1


def _raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_heartbeat_answers_the_kept_version_while_nothing_changed(device, announce):
    deposited(announce, device)
    first = _answered(device)
    assert first == bundle_version(device.locker)
    _keep_a_marker(device.locker)

    assert _answered(device) == NOT_A_DIGEST
    # Writes that do not touch what the bundle holds leave it kept.
    Locker.objects.filter(pk=device.locker.pk).update(firmware_version="9.9.9")
    device.post("events", {"events": []})
    assert _answered(device) == NOT_A_DIGEST


def _code_used(parcel: Parcel, locker: Locker) -> None:
    pin, _ = code_secrets(parcel.pickup_code)
    pickup_code_verify(locker=locker, pin=pin)


def _code_revoked_by_hand(parcel: Parcel, locker: Locker) -> None:
    _raw("UPDATE parcels_pickupcode SET state = %s WHERE id = %s", [PickupCode.State.REVOKED, parcel.pickup_code_id])


def _extended(parcel: Parcel, locker: Locker) -> None:
    parcel_extend(parcel_id=parcel.pk, who=Who(Actor.OPERATOR))


def _expired(parcel: Parcel, locker: Locker) -> None:
    assert parcels_expire_due(now=parcel.pickup_deadline + timedelta(minutes=1)) >= 1


def _deadline_moved_by_hand(parcel: Parcel, locker: Locker) -> None:
    _raw("UPDATE parcels_parcel SET pickup_deadline = pickup_deadline + interval '1 day' WHERE id = %s", [parcel.pk])


def _deleted_by_hand(parcel: Parcel, locker: Locker) -> None:
    for table in ("parcels_parcelevent", "notifications_notification"):
        _raw(f"DELETE FROM {table} WHERE parcel_id = %s", [parcel.pk])
    _raw("DELETE FROM parcels_parcel WHERE id = %s", [parcel.pk])


def _code_purpose_changed_by_hand(parcel: Parcel, locker: Locker) -> None:
    _raw("UPDATE parcels_pickupcode SET purpose = %s WHERE id = %s", [PickupCode.Purpose.DROP_OFF,
                                                                       parcel.pickup_code_id])


def _door_moved_by_hand(parcel: Parcel, locker: Locker) -> None:
    """The parcel's door is given to another locker of the site: it leaves this one's bundle."""
    _raw("UPDATE lockers_compartment SET locker_id = %s WHERE id = %s",
         [LockerFactory(site=locker.site).pk, parcel.compartment_id])


def _moved_to_another_site(parcel: Parcel, locker: Locker) -> None:
    """The locker itself moves; its codes stay at their site, where the keypad no longer takes them."""
    Locker.objects.filter(pk=locker.pk).update(site=SiteFactory())


@pytest.mark.parametrize("change", [_code_used, _code_revoked_by_hand, _code_purpose_changed_by_hand, _extended,
                                    _expired, _deadline_moved_by_hand, _deleted_by_hand, _door_moved_by_hand,
                                    _moved_to_another_site])
def test_after_a_change_to_what_the_bundle_holds_the_heartbeat_answers_the_new_digest(
    device, announce, change: Callable[[Parcel, Locker], None]
):
    parcel = deposited(announce, device)
    deposited(announce, device)
    parcel.refresh_from_db()  # the second parcel's deposit may have given both one code
    before = _answered(device)
    _keep_a_marker(device.locker)

    change(parcel, device.locker)

    now = _answered(device)
    assert now == bundle_version(device.locker)
    assert now not in (before, NOT_A_DIGEST)


def test_a_parcel_written_back_by_hand_has_the_digest_taken_again(device, announce):
    parcel = deposited(announce, device)
    _raw("CREATE TEMPORARY TABLE parcel_kept AS SELECT * FROM parcels_parcel WHERE id = %s", [parcel.pk])
    _deleted_by_hand(parcel, device.locker)
    gone = _answered(device)
    _keep_a_marker(device.locker)

    _raw("INSERT INTO parcels_parcel SELECT * FROM parcel_kept", [])

    back = _answered(device)
    assert back == bundle_version(device.locker)
    assert back not in (gone, NOT_A_DIGEST)


def test_a_locker_moved_away_and_back_before_its_heartbeat_has_the_digest_taken_again(device, announce):
    parcel = deposited(announce, device)
    _answered(device)
    _keep_a_marker(device.locker)
    home = device.locker.site

    Locker.objects.filter(pk=device.locker.pk).update(site=SiteFactory())
    _deadline_moved_by_hand(parcel, device.locker)  # logged under the site the locker is at now
    Locker.objects.filter(pk=device.locker.pk).update(site=home)

    assert _answered(device) == bundle_version(device.locker) != NOT_A_DIGEST


def test_a_deposit_at_a_neighbour_has_the_digest_taken_again_and_it_gives_the_same_version(
    device, announce, make_locker
):
    deposited(announce, device)
    before = _answered(device)
    _keep_a_marker(device.locker)
    neighbour = make_locker()
    assert neighbour.site_id == device.locker.site_id

    # The log is kept per site: a deposit at another locker of the site makes this one take
    # its digest again, which gives the version it had (nothing changed in this locker).
    deposited(announce, SimpleNamespace(locker=neighbour))

    assert _answered(device) == before


def _log(site_id: int) -> tuple[int, int]:
    found = BundleChange.objects.filter(site_id=site_id)
    return found.count(), found.aggregate(total=Sum("weight"))["total"] or 0


def test_the_log_folds_itself_and_keeps_its_sum_and_the_kept_versions(device, announce):
    parcel = deposited(announce, device)
    site = device.locker.site_id
    _answered(device)
    rows_before, sum_before = _log(site)

    # 40 changes (each extension moves the deadline): at least two land on a sixteenth row.
    for _ in range(40):
        _deadline_moved_by_hand(parcel, device.locker)
    rows_after, sum_after = _log(site)

    assert sum_after == sum_before + 40  # every change counted once, folded or not
    assert rows_after < 16 + 1  # folded at its last sixteenth row: at most 16 since
    assert rows_after < rows_before + 40
    assert _answered(device) == bundle_version(device.locker)

    # The next row logged has an id that folds: the site is left one row, with every change in it.
    _raw("SELECT setval('lockers_bundlechange_id_seq', (SELECT ceil(max(id) / 16.0) * 16 + 15 FROM "
         "lockers_bundlechange)::bigint)", [])
    _deadline_moved_by_hand(parcel, device.locker)
    assert _log(site) == (1, sum_after + 1)
    assert _answered(device) == bundle_version(device.locker)


def test_a_kept_version_is_taken_again_in_the_next_period(device, announce, monkeypatch, request):
    monkeypatch.setattr(bundle, "KEPT_VERSION_MAX_AGE_SECONDS", 1)
    # The heartbeat's statement is built once, with the period in it: built again with this one, and after.
    heartbeat._heartbeat_sql.cache_clear()
    request.addfinalizer(heartbeat._heartbeat_sql.cache_clear)
    deposited(announce, device)
    _answered(device)
    _keep_a_marker(device.locker)

    time.sleep(1.1)  # the period is part of the mark: a new second, a new mark

    assert _answered(device) == bundle_version(device.locker)


def test_a_code_of_another_site_is_not_in_the_bundle(device, announce):
    parcel = deposited(announce, device)
    alone = _answered(device)
    other = SiteFactory()

    # The keypad looks a code up at its own site only: offline the locker must not accept it either.
    PickupCode.objects.filter(pk=parcel.pickup_code_id).update(site=other)

    assert device.get("bundle").json()["codes"] == []
    assert _answered(device) == bundle_version(device.locker) != alone


def test_every_change_log_function_keeps_its_plan_between_calls(db):
    # A LANGUAGE sql function that is not inlined (a trigger's PERFORM never is) is parsed
    # and planned again on each call before PostgreSQL 18: the door look-up written so cost
    # about 100 µs on every parcel a write touched (lockers.0011, docs/performance.md).
    with connection.cursor() as cursor:
        cursor.execute("SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
                       "WHERE p.proname LIKE 'lockers\\_bundle\\_%%'")
        languages = dict(cursor.fetchall())

    assert len(languages) == 6
    assert set(languages.values()) == {"plpgsql"}, languages
