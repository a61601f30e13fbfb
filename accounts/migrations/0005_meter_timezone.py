from django.db import migrations, models


def meters_take_their_premise_timezone(apps, schema_editor):
    Meter = apps.get_model("accounts", "Meter")
    for meter in Meter.objects.select_related("premise").filter(timezone=""):
        meter.timezone = meter.premise.timezone
        meter.save(update_fields=["timezone"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_kyc_consent_enrolment_audit_wallet")]

    operations = [
        migrations.AddField(
            model_name="meter",
            name="timezone",
            field=models.CharField(
                default="",
                help_text="IANA timezone of the meter's local day (its data quality days, its files' local time); "
                "the premise's unless the meter says otherwise.",
                max_length=64,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(meters_take_their_premise_timezone, migrations.RunPython.noop),
    ]
