"""Awards of the request clearing stored before ``Award.buyer`` existed: their buyer is the request's operator.

After this, every award names its buyer, so nothing downstream needs a fallback to ``request.operator``."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def buyer_from_request(apps, schema_editor):
    Award = apps.get_model("market", "Award")
    FlexibilityRequest = apps.get_model("market", "FlexibilityRequest")
    Award.objects.filter(buyer__isnull=True, request__isnull=False).update(
        buyer_id=Subquery(FlexibilityRequest.objects.filter(pk=OuterRef("request_id")).values("operator_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("market", "0003_matching_and_capacity_indexes")]
    operations = [migrations.RunPython(buyer_from_request, migrations.RunPython.noop)]
