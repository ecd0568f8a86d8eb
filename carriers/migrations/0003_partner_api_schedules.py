"""Schedules of the partner API's periodic tasks (django-q2)."""

from django.db import migrations

SCHEDULES = [
    # Retries with backoff and events from anywhere (devices, the expiry job) go out from here.
    ("carriers: send webhooks", "carriers.tasks.webhooks_dispatch", "I", 1),
    # Idempotency keys live at least 24 hours; older ones are deleted hourly.
    ("carriers: expire idempotency keys", "carriers.tasks.idempotency_keys_expire", "H", None),
]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, schedule_type, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1}
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("carriers", "0002_partner_api"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
