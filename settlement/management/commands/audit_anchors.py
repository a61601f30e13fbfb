"""``manage.py audit_anchors``: recompute every anchored root from the database and compare with the chain."""

from django.core.management.base import BaseCommand, CommandError

from settlement.services.audit import anchors_audit


class Command(BaseCommand):
    help = "Recompute every anchored settlement root from the database and compare it with the chain."

    def add_arguments(self, parser):
        parser.add_argument("--fail", action="store_true", help="exit non-zero when a difference is found")

    def handle(self, *args, **options):
        result = anchors_audit()
        for alert in result.alerts:
            self.stdout.write(self.style.ERROR(f"ALERT {alert.kind}: {alert.detail}"))
        if result.chain_error:
            self.stderr.write(result.chain_error)
        self.stdout.write(f"checked {result.checked} anchored periods, {len(result.alerts)} difference(s)")
        if options["fail"] and not result.clean:
            raise CommandError("anchor audit found differences")
