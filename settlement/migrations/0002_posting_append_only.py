"""The ledger is append-only in the database itself: UPDATE and DELETE on postings and journal entries fail."""

from django.db import migrations

TABLES = ["settlement_posting", "settlement_journalentry"]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();"
            )
    elif vendor == "sqlite":
        # SQLite (the embedded default) refuses UPDATE; DELETE stays possible there because Django's test
        # flush deletes rows one by one. Postgres, the working store, refuses both (TRUNCATE is not a row change).
        for table in TABLES:
            for op in ("UPDATE",):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger is append-only: {op} on {table} refused'); END;"
                )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        elif vendor == "sqlite":
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op};")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("settlement", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
