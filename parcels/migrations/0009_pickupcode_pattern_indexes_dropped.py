from django.db import migrations

from lockers_site.migration_ops import postgresql_only

# On PostgreSQL Django gives every unique CharField a second index, with
# varchar_pattern_ops, for LIKE queries. A pickup code's seed and QR hash are only ever
# looked up whole (their unique indexes serve that), yet both extra indexes were written
# on every code used: the use changes the code's state, which a partial index reads, so
# the update cannot be HOT and every index of the row takes a new entry. EXPLAIN ANALYZE
# of the code check's statement in the bench database, 300 codes: 0.239 ms with them,
# 0.206 ms without (docs/performance.md, *Twelfth pass*). Dropped and re-created online,
# under the names Django gave them; the fields keep `unique=True`.
PATTERN_INDEXES = {"seed": "parcels_pickupcode_seed_4c1bf2ab_like",
                   "qr_hash": "parcels_pickupcode_qr_hash_e081e969_like"}
DROP = [f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"' for name in PATTERN_INDEXES.values()]
CREATE = [f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "parcels_pickupcode" ("{column}" varchar_pattern_ops)'
          for column, name in PATTERN_INDEXES.items()]


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('parcels', '0008_fk_indexes_covered'),
    ]

    operations = [migrations.RunPython(postgresql_only(*DROP), postgresql_only(*CREATE))]
