"""The governed market parameters move from settlement to the market (the market reads them; settlement's
governance writes them through ``market.services.parameters``). The table and its rows stay: the model's state
moves here, then the table is renamed ``settlement_marketparameter`` -> ``market_marketparameter``."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0005_member_delivery_window"),
        ("settlement", "0007_reward_pool_shift_credit_and_shortfalls"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MarketParameter",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("name", models.CharField(max_length=60, unique=True)),
                        ("value", models.DecimalField(decimal_places=6, max_digits=18)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={"db_table": "settlement_marketparameter"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="marketparameter", table=None),
    ]
