"""Order members carry their order's delivery window: a premise's open shares over a window come from its own
index (the capacity check on every sell order) instead of a scan of every open sell order."""

from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def copy_window(apps, schema_editor):
    MarketOrder = apps.get_model("market", "MarketOrder")
    OrderMember = apps.get_model("market", "OrderMember")
    orders = MarketOrder.objects.filter(pk=OuterRef("order_id"))
    OrderMember.objects.update(
        delivery_start=Subquery(orders.values("delivery_start")[:1]),
        delivery_end=Subquery(orders.values("delivery_end")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [("market", "0004_award_buyer_backfill")]

    operations = [
        migrations.AddField("ordermember", "delivery_start", models.DateTimeField(null=True)),
        migrations.AddField("ordermember", "delivery_end", models.DateTimeField(null=True)),
        migrations.RunPython(copy_window, migrations.RunPython.noop),
        migrations.AlterField("ordermember", "delivery_start", models.DateTimeField()),
        migrations.AlterField("ordermember", "delivery_end", models.DateTimeField()),
        migrations.RemoveIndex("ordermember", "member_premise_open"),
        migrations.AddIndex(
            "ordermember",
            models.Index(
                fields=["premise", "delivery_start"],
                condition=Q(remaining_kw__gt=0),
                name="member_premise_open_window",
            ),
        ),
    ]
