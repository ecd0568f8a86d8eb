"""Schedules of the lifecycle's time rules (django-q2), every minute.

Reminders are queued by the notifications app's own schedule."""

from django.db import migrations

SCHEDULES = [
    ("parcels: release expired holds", "parcels.tasks.holds_release"),
    ("parcels: expire overdue parcels", "parcels.tasks.parcels_expire"),
]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1}
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[name for name, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("parcels", "0002_support_cases"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
