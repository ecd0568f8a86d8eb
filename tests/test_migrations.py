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
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "lockers_locker")
    # An index on last_heartbeat_at would keep every heartbeat's update from being HOT.
    assert not any(c["index"] and "last_heartbeat_at" in c["columns"] for c in constraints.values())
