"""``IdempotencyRecord`` moves to the platform core (``flexplatform.core``, table ``core_idempotencyrecord``): the
stored first responses are copied, then the accounts table is dropped."""

from django.db import migrations


def copy_records(apps, schema_editor):
    old = apps.get_model("accounts", "IdempotencyRecord")
    new = apps.get_model("core", "IdempotencyRecord")
    fields = ("user_id", "scope", "key", "request_hash", "response_status", "response_body", "created_at")
    rows = [new(**{f: getattr(r, f) for f in fields}) for r in old.objects.order_by("pk").iterator()]
    new.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_meter_timezone"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(copy_records, migrations.RunPython.noop),
        migrations.DeleteModel(name="IdempotencyRecord"),
    ]
