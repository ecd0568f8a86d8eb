import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from lockers_site.migration_ops import AddIndexOnline, ForeignKeyIndexDroppedOnline

# A custody event's locker, door and user are indexed only where given. Most events have
# no user (a locker, a partner or the system wrote them) and many no door, so Django's
# foreign key indexes held mostly NULLs, which no look-up reads, and every event written
# took an entry in each (at US size 97 to 100% of each index). The partial indexes are
# built first, online, so a look-up by locker, door or user always has one; then the old
# ones are dropped, online.


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('parcels', '0010_pickupcode_live_qr_unique'),
        ('lockers', '0011_bundle_door_lookup_planned_once'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexOnline(
            model_name='parcelevent',
            index=models.Index(condition=models.Q(('locker__isnull', False)), fields=['locker'],
                               name='parcelevent_locker_given'),
        ),
        AddIndexOnline(
            model_name='parcelevent',
            index=models.Index(condition=models.Q(('compartment__isnull', False)), fields=['compartment'],
                               name='parcelevent_door_given'),
        ),
        AddIndexOnline(
            model_name='parcelevent',
            index=models.Index(condition=models.Q(('user__isnull', False)), fields=['user'],
                               name='parcelevent_user_given'),
        ),
        ForeignKeyIndexDroppedOnline(
            model_name='parcelevent',
            name='locker',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='lockers.locker'),
        ),
        ForeignKeyIndexDroppedOnline(
            model_name='parcelevent',
            name='compartment',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='lockers.compartment'),
        ),
        ForeignKeyIndexDroppedOnline(
            model_name='parcelevent',
            name='user',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    to=settings.AUTH_USER_MODEL),
        ),
    ]
