"""The demo prints a TOTP code the operator's authenticator accepts (the code a newcomer signs in with)."""

from io import StringIO

from django.core.management import call_command

from accounts.tests.helpers import totp_now
from demo import TOTP_SECRET


def test_demo_totp_prints_the_current_code():
    out = StringIO()
    call_command("demo_totp", stdout=out)
    assert out.getvalue().strip() == totp_now(TOTP_SECRET)
