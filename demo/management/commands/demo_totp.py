"""``manage.py demo_totp``: the current TOTP code of the demo's grid operator and admin (MFA is required for
them), computed with allauth's own TOTP implementation from the published demo secret."""

from __future__ import annotations

import time

from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management.base import BaseCommand

from demo import TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current TOTP code for operator@demo.flex and admin@demo.flex."

    def handle(self, *args, **options):
        counter = int(time.time()) // app_settings.TOTP_PERIOD
        self.stdout.write(format_hotp_value(hotp_value(TOTP_SECRET, counter)))
