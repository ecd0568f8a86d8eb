"""Keep an idempotent answer as its rendered JSON text (PostgreSQL's jsonb reorders keys)."""

from django.db import migrations, models


def blank_unanswered(apps, schema_editor):
    apps.get_model("carriers", "IdempotencyKey").objects.filter(response_body__isnull=True).update(response_body="")


class Migration(migrations.Migration):
    dependencies = [("carriers", "0003_partner_api_schedules")]

    operations = [
        migrations.AlterField(
            model_name="idempotencykey", name="response_body", field=models.TextField(blank=True, null=True)
        ),
        migrations.RunPython(blank_unanswered, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="idempotencykey",
            name="response_body",
            field=models.TextField(blank=True, default=""),
        ),
    ]
