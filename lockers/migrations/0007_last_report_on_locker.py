# The last heartbeat's report moves from the device credential to the locker, next to its
# last-seen time, so a heartbeat writes both in one statement.

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def reports_copy(apps, schema_editor):
    """Each locker's report from its credential, in one statement."""
    Locker, DeviceCredential = apps.get_model("lockers", "Locker"), apps.get_model("lockers", "DeviceCredential")
    report = DeviceCredential.objects.filter(locker=OuterRef("pk")).values("last_report")
    Locker.objects.filter(device_credential__isnull=False).update(last_report=Subquery(report))


def reports_copy_back(apps, schema_editor):
    """Undoing the move: each credential's report from its locker."""
    Locker, DeviceCredential = apps.get_model("lockers", "Locker"), apps.get_model("lockers", "DeviceCredential")
    report = Locker.objects.filter(pk=OuterRef("locker_id")).values("last_report")
    DeviceCredential.objects.update(last_report=Subquery(report))


class Migration(migrations.Migration):

    dependencies = [
        ('lockers', '0006_locker_last_event_sequence'),
    ]

    operations = [
        migrations.AddField(
            model_name='locker',
            name='last_report',
            field=models.JSONField(blank=True, default=dict, help_text="The last heartbeat's sensors and doors."),
        ),
        migrations.RunPython(reports_copy, reports_copy_back),
        migrations.RemoveField(
            model_name='devicecredential',
            name='last_report',
        ),
    ]
