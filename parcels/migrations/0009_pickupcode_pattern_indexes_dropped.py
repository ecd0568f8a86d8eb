from django.db import migrations

# On PostgreSQL Django gives every unique CharField a second index, with
# varchar_pattern_ops, for LIKE queries. A pickup code's seed and QR hash are only ever
# looked up whole (their unique indexes serve that), yet both extra indexes were written
# on every code used: the use changes the code's state, which a partial index reads, so
# the update cannot be HOT and every index of the row takes a new entry. EXPLAIN ANALYZE
# of the code check's statement in the bench database, 300 codes: 0.239 ms with them,
# 0.206 ms without (docs/performance.md, *Twelfth pass*). Dropped online, as
# lockers_site.migration_ops does for indexes; the fields keep `unique=True`.
PATTERN_INDEXED = ("seed", "qr_hash")


def _pattern_indexes(apps, schema_editor) -> list[tuple[str, str, str]]:
    """(index name, table, column) of each pattern-ops index, named as Django names them."""
    table = apps.get_model("parcels", "PickupCode")._meta.db_table
    return [(schema_editor._create_index_name(table, [column], suffix="_like"), table, column)
            for column in PATTERN_INDEXED]


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in _pattern_indexes(apps, schema_editor):
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in _pattern_indexes(apps, schema_editor):
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {schema_editor.quote_name(name)} ON "
                              f"{schema_editor.quote_name(table)} ({schema_editor.quote_name(column)} "
                              "varchar_pattern_ops)")


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('parcels', '0008_fk_indexes_covered'),
    ]

    operations = [migrations.RunPython(drop, create)]
