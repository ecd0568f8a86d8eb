"""The nonce purge runs every minute in the task worker (django-q2), not in each heartbeat."""

from django.db import migrations

NAME = "lockers: forget old device nonces"


def create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": "lockers.tasks.device_nonces_forget", "schedule_type": "I", "minutes": 1,
                             "repeats": -1}
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("lockers", "0003_loading_open_command"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
