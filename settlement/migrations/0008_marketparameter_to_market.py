"""The governed market parameters now belong to the market (``market.0006``, which keeps the table and rows):
settlement forgets the model's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0007_reward_pool_shift_credit_and_shortfalls"),
        ("market", "0006_marketparameter_from_settlement"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="MarketParameter")],
            database_operations=[],
        ),
    ]
