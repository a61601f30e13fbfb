"""OpenADR 3: VEN client credentials apart from the VEN (self-registration), outbox rows without an event
(notifications about other objects), event revision time, and the data source of a verification."""

import django.db.models.deletion
from django.db import migrations, models

SOURCES = [
    ("meter", "Meter data"),
    ("ven_report", "VEN report (OpenADR 3)"),
    ("mixed", "Meter data, VEN report where meter data is missing"),
]


def credentials_to_clients(apps, schema_editor):
    Ven = apps.get_model("activation", "Ven")
    VenClient = apps.get_model("activation", "VenClient")
    for ven in Ven.objects.all():
        ven.client = VenClient.objects.create(
            client_id=ven.legacy_client_id, secret_hash=ven.secret_hash, organisation_id=ven.organisation_id
        )
        ven.save(update_fields=["client"])


def drop_tokens(apps, schema_editor):
    # Bearer tokens are short-lived; VENs ask /auth/token again.
    apps.get_model("activation", "VenToken").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_premise_meter_registry_fields"),
        ("activation", "0003_reservations_event_price_and_buyer"),
    ]

    operations = [
        migrations.CreateModel(
            name="VenClient",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("client_id", models.CharField(max_length=128, unique=True)),
                ("secret_hash", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "organisation",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ven_clients",
                        to="accounts.organisation",
                    ),
                ),
            ],
        ),
        migrations.RenameField(model_name="ven", old_name="client_id", new_name="legacy_client_id"),
        migrations.AddField(
            model_name="ven",
            name="client",
            field=models.OneToOneField(
                blank=True,
                help_text="Its credentials.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="ven",
                to="activation.venclient",
            ),
        ),
        migrations.RunPython(credentials_to_clients, migrations.RunPython.noop),
        migrations.RemoveField(model_name="ven", name="legacy_client_id"),
        migrations.RemoveField(model_name="ven", name="secret_hash"),
        migrations.RunPython(drop_tokens, migrations.RunPython.noop),
        migrations.RemoveField(model_name="ventoken", name="ven"),
        migrations.AddField(
            model_name="ventoken",
            name="client",
            field=models.ForeignKey(
                default=None,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tokens",
                to="activation.venclient",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="drevent",
            name="revised_at",
            field=models.DateTimeField(
                blank=True, help_text="Last change of target or window after creation (OpenADR 3 PUT).", null=True
            ),
        ),
        migrations.AddField(
            model_name="eventverification",
            name="actual_source",
            field=models.CharField(choices=SOURCES, default="meter", max_length=16),
        ),
        migrations.AddField(
            model_name="eventverification",
            name="baseline_source",
            field=models.CharField(choices=SOURCES, default="meter", max_length=16),
        ),
        migrations.AddField(
            model_name="verificationinterval",
            name="actual_source",
            field=models.CharField(choices=SOURCES, default="meter", max_length=16),
        ),
        migrations.AlterField(
            model_name="eventverification",
            name="baseline",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="assessment.baseline",
            ),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="event",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty for OpenADR 3 notifications about objects other than events.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="outbox",
                to="activation.drevent",
            ),
        ),
    ]
