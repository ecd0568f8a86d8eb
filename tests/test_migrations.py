"""Index migrations on big tables build online on PostgreSQL (`lockers_site.migration_ops.AddIndexOnline`)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

# sqlmigrate reads the applied migrations, outside a transaction as `migrate` would run them.
pytestmark = pytest.mark.django_db(transaction=True)

INDEX_MIGRATIONS = [
    ("parcels", "0005_parcel_created_partner_active"),
    ("parcels", "0006_status_created"),
    ("parcels", "0007_store_orders"),
    ("lockers", "0005_site_name"),
]


def _sql(app: str, migration: str, *options: str) -> str:
    out = StringIO()
    call_command("sqlmigrate", app, migration, *options, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("app", "migration"), INDEX_MIGRATIONS)
def test_an_index_migration_builds_and_drops_its_index_without_blocking_writes_on_postgresql(app, migration):
    built, dropped = _sql(app, migration), _sql(app, migration, "--backwards")

    assert "CREATE INDEX" in built and "DROP INDEX" in dropped
    concurrent = connection.vendor == "postgresql"
    assert ("CREATE INDEX CONCURRENTLY" in built) is concurrent
    assert ("DROP INDEX CONCURRENTLY" in dropped) is concurrent
    assert "BEGIN;" not in built  # PostgreSQL refuses a concurrent build inside a transaction


def test_heartbeat_updates_of_a_locker_row_stay_on_its_page_on_postgresql():
    forwards, backwards = _sql("lockers", "0008_heartbeat_updates_stay_hot"), _sql(
        "lockers", "0008_heartbeat_updates_stay_hot", "--backwards")

    on_postgresql = connection.vendor == "postgresql"
    assert ('ALTER TABLE "lockers_locker" SET (fillfactor = 70)' in forwards) is on_postgresql
    assert ('ALTER TABLE "lockers_locker" SET (fillfactor = 100)' in backwards) is on_postgresql
    constraints = _constraints("lockers_locker")
    # An index on last_heartbeat_at would keep every heartbeat's update from being HOT.
    assert not any(c["index"] and "last_heartbeat_at" in c["columns"] for c in constraints.values())


COVERED_FK_INDEXES = {
    "parcels_parcelevent": "parcels_parcelevent_parcel_id_e795cab7",
    "parcels_parcel": "parcels_parcel_site_id_639346bd",
    "notifications_notification": "notifications_notification_parcel_id_436e3d7b",
}


def _constraints(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def _indexes_and_foreign_keys(table: str) -> tuple[set[str], set[str]]:
    constraints = _constraints(table)
    return ({name for name, c in constraints.items() if c["index"]},
            {name for name, c in constraints.items() if c["foreign_key"]})


def test_a_covered_foreign_key_index_is_dropped_online_and_its_constraint_kept():
    before = {table: _indexes_and_foreign_keys(table) for table in COVERED_FK_INDEXES}
    call_command("migrate", "parcels", "0007", verbosity=0)
    restored = {table: _indexes_and_foreign_keys(table) for table in COVERED_FK_INDEXES}
    dropping = _sql("parcels", "0008_fk_indexes_covered")
    call_command("migrate", verbosity=0)

    for table, index in COVERED_FK_INDEXES.items():
        assert index not in before[table][0] and index in restored[table][0]
        assert _indexes_and_foreign_keys(table) == before[table]
    if connection.vendor == "postgresql":
        # Only the index goes, without locking writes; the foreign key is not dropped and re-checked.
        assert 'DROP INDEX CONCURRENTLY IF EXISTS "parcels_parcelevent_parcel_id_e795cab7"' in dropping
        assert "CONSTRAINT" not in dropping and "BEGIN;" not in dropping


PICKUP_CODE_PATTERN_INDEXES = {"parcels_pickupcode_seed_4c1bf2ab_like", "parcels_pickupcode_qr_hash_e081e969_like"}


def _pickup_code_uniques() -> dict[str, tuple[str, ...]]:
    return {name: tuple(c["columns"]) for name, c in _constraints("parcels_pickupcode").items()
            if c["unique"] and not c["primary_key"]}


def test_a_pickup_codes_pattern_indexes_are_dropped_on_postgresql_and_its_unique_ones_kept():
    call_command("migrate", "parcels", "0009", verbosity=0)
    before, _ = _indexes_and_foreign_keys("parcels_pickupcode")
    call_command("migrate", "parcels", "0008", verbosity=0)
    restored, _ = _indexes_and_foreign_keys("parcels_pickupcode")
    call_command("migrate", "parcels", "0009", verbosity=0)
    again, uniques = _indexes_and_foreign_keys("parcels_pickupcode")[0], _pickup_code_uniques()
    call_command("migrate", verbosity=0)

    assert set(uniques.values()) >= {("seed",), ("qr_hash",)}
    assert again == before
    if connection.vendor == "postgresql":
        # Each was written on every code used, and no query reads a seed or a QR hash by prefix.
        assert not PICKUP_CODE_PATTERN_INDEXES & before
        assert restored >= PICKUP_CODE_PATTERN_INDEXES


def test_a_pickup_codes_qr_hash_becomes_unique_among_live_codes_online_and_its_seed_unindexed():
    latest, _ = _indexes_and_foreign_keys("parcels_pickupcode")
    forwards = _sql("parcels", "0010_pickupcode_live_qr_unique")
    call_command("migrate", "parcels", "0009", verbosity=0)
    at_0009, uniques_at_0009 = _indexes_and_foreign_keys("parcels_pickupcode")[0], _pickup_code_uniques()
    backwards = _sql("parcels", "0010_pickupcode_live_qr_unique", "--backwards")
    call_command("migrate", verbosity=0)

    assert _pickup_code_uniques() == {"pickupcode_live_pin_unique_per_site": ("site_id", "pin_hash"),
                                      "pickupcode_live_qr_unique": ("qr_hash",)}
    assert _indexes_and_foreign_keys("parcels_pickupcode")[0] == latest
    assert set(uniques_at_0009.values()) == {("site_id", "pin_hash"), ("seed",), ("qr_hash",)}
    if connection.vendor == "postgresql":
        # Built and given back without stopping writes, and going back builds no pattern index.
        assert 'CREATE UNIQUE INDEX CONCURRENTLY "pickupcode_live_qr_unique"' in forwards
        assert 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "parcels_pickupcode_seed_key"' in backwards
        assert "BEGIN;" not in forwards and "BEGIN;" not in backwards
        assert not PICKUP_CODE_PATTERN_INDEXES & at_0009


EVENT_INDEXES_WHERE_GIVEN = {"parcelevent_locker_given": "locker_id", "parcelevent_door_given": "compartment_id",
                             "parcelevent_user_given": "user_id"}


def _event_indexes() -> dict[str, tuple[str, ...]]:
    return {name: tuple(c["columns"]) for name, c in _constraints("parcels_parcelevent").items()
            if c["index"] and not c["unique"]}


def test_an_events_locker_door_and_user_are_indexed_where_given_built_before_the_old_indexes_go():
    latest = _event_indexes()
    call_command("migrate", "parcels", "0010", verbosity=0)
    at_0010 = _event_indexes()
    forwards = _sql("parcels", "0011_parcelevent_fk_indexes_where_given")  # what it drops is read from 0010's tables
    call_command("migrate", verbosity=0)

    assert _event_indexes() == latest
    for name, column in EVENT_INDEXES_WHERE_GIVEN.items():
        assert latest[name] == (column,) and name not in at_0010
        # One index a column, then and now: the foreign key's own index is back at 0010.
        assert list(latest.values()).count((column,)) == 1 and list(at_0010.values()).count((column,)) == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'parcels_parcelevent'")
            definitions = dict(cursor.fetchall())
        for name, column in EVENT_INDEXES_WHERE_GIVEN.items():
            assert definitions[name].endswith(f"WHERE ({column} IS NOT NULL)")
        # Built online before the old ones are dropped online: a look-up always has an index.
        assert forwards.index("CREATE INDEX CONCURRENTLY") < forwards.index("DROP INDEX CONCURRENTLY")
        assert "BEGIN;" not in forwards
