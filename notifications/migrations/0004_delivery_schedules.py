"""Schedules that sweep the outbox and queue reminders (django-q2 runs them)."""

from django.db import migrations

SCHEDULES = [
    # Sends whatever the after-commit hand-off missed: retries, lapsed claims, lost tasks.
    ("notifications: send due", "notifications.tasks.notifications_send_due", 1),
    ("notifications: queue reminders", "notifications.services.reminders_enqueue", 15),
]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        Schedule.objects.get_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1}
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[name for name, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_attempts_optouts_profiles"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
