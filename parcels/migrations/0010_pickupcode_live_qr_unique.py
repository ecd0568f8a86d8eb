import django.db.models
from django.db import migrations

from lockers_site.migration_ops import LiveUniqueAddedOnline, UniqueDroppedOnline

# Using a code changes its state, which the live-PIN index reads, so the update cannot be
# HOT and every index of the row takes an entry for the used version: the seed's and the
# QR hash's unique indexes each took one at a random place in an index of every code ever
# issued. Nothing looks a code up by its seed, and a used code's QR token opens nothing,
# so the QR hash is unique among live codes (as the PIN is, per site) and the seed keeps
# no index. EXPLAIN ANALYZE of the code check's statement, 600 codes each way, alternated:
# 0.256 ms mean (0.189 median) with the two indexes, 0.188 (0.169) without, in the bench
# database (docs/performance.md, *Fourteenth pass*). The live index is built first, online.


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('parcels', '0009_pickupcode_pattern_indexes_dropped'),
    ]

    operations = [
        LiveUniqueAddedOnline(
            model_name='pickupcode',
            constraint=django.db.models.UniqueConstraint(
                condition=django.db.models.Q(('state', 'live')), fields=('qr_hash',), name='pickupcode_live_qr_unique'),
        ),
        UniqueDroppedOnline(
            model_name='pickupcode',
            name='qr_hash',
            field=django.db.models.CharField(max_length=64),
            constraint_name='parcels_pickupcode_qr_hash_key',
        ),
        UniqueDroppedOnline(
            model_name='pickupcode',
            name='seed',
            field=django.db.models.CharField(max_length=64),
            constraint_name='parcels_pickupcode_seed_key',
        ),
    ]
