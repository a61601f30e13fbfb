"""Account balances are kept by the database itself: every inserted posting adds to its account's balance.

Postgres: one statement-level trigger over the inserted rows (a transition table), so a bulk ``COPY`` of
postings updates each touched account once. SQLite: a row trigger that rounds to the column's 4 decimals (SQLite adds
numerics as floats; without the rounding 7.46 - 7.46 could leave -1e-15 and trip the CHECK). The ``balance >= 0 unless allowed``
CHECK constraint then refuses any posting that would overdraw an account that may not go negative.
"""

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_apply_postings() RETURNS trigger AS $$
BEGIN
    UPDATE settlement_ledgeraccount a SET balance = a.balance + t.total
    FROM (SELECT account_id, SUM(amount) AS total FROM new_postings GROUP BY account_id) t
    WHERE a.id = t.account_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

BACKFILL = """
UPDATE settlement_ledgeraccount SET balance = COALESCE(
    (SELECT SUM(p.amount) FROM settlement_posting p WHERE p.account_id = settlement_ledgeraccount.id), 0)
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(BACKFILL, params=None)
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        schema_editor.execute(
            "CREATE TRIGGER settlement_posting_balance AFTER INSERT ON settlement_posting "
            "REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_postings();"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER settlement_posting_balance AFTER INSERT ON settlement_posting BEGIN "
            "UPDATE settlement_ledgeraccount SET balance = ROUND(balance + NEW.amount, 4) WHERE id = NEW.account_id; END;"
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS settlement_posting_balance ON settlement_posting;")
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_apply_postings();")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS settlement_posting_balance;")


class Migration(migrations.Migration):
    dependencies = [("settlement", "0005_compensation_ledger_runs_governance")]
    operations = [migrations.RunPython(forwards, backwards)]
