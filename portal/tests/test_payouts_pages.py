"""The payout pages refuse the wrong role and bad input with a message, never a 500 (ADR 0027)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from demo import TOTP_SECRET
from settlement.models import BankAccount, PayoutConfirmation, PayoutRun
from settlement.tests.factories import tokens_grant, world_make

pytestmark = pytest.mark.django_db
R = Membership.Role


def _login(org, role, name):
    user = get_user_model().objects.create(username=name, email=f"{name}@pp.test")
    Membership.objects.create(user=user, organisation=org, role=role)
    if role in (R.ADMIN, R.GRID_OPERATOR):  # MFA is required for them
        totp_activate(user=user, secret=TOTP_SECRET)
    c = Client()
    c.force_login(user)
    return c


def test_participants_may_not_reach_the_payout_console_or_files(settings):
    settings.SETTLEMENT_CURRENCY = "EUR"
    w = world_make(n=1, tag="pp")
    consumer = _login(w.consumers[0], R.CONSUMER, "ppc")
    assert consumer.get("/payouts/console/").status_code == 403
    assert consumer.post("/payouts/console/", {"action": "run"}).status_code == 403
    assert consumer.get("/payouts/runs/1/pain001.xml").status_code == 403
    assert not PayoutRun.objects.exists()
    operator = _login(w.operator, R.GRID_OPERATOR, "ppo")
    assert operator.get("/payouts/").status_code == 403  # no bank details page for an operator


def test_bad_input_is_a_message_and_changes_nothing(settings):
    settings.SETTLEMENT_CURRENCY = "EUR"
    w = world_make(n=1, tag="pq")
    tokens_grant(w.consumers[0], "EUR", D("1.00"), "pq")
    consumer = _login(w.consumers[0], R.CONSUMER, "pqc")
    page = consumer.post("/payouts/", {"holder_name": "A", "iban": "DE00", "bic": "BYLADEM1001"}, follow=True)
    assert page.status_code == 200 and b"Invalid bank details" in page.content and b"iban" in page.content
    assert not BankAccount.objects.exists()
    admin = _login(Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM), R.ADMIN, "pqa")
    page = admin.post("/payouts/console/", {"action": "run"}, follow=True)
    assert b"none has bank details" in page.content and not PayoutRun.objects.exists()
    page = admin.post("/payouts/console/", {"action": "camt054"}, follow=True)
    assert b"Choose a camt.054 file" in page.content
    upload = SimpleUploadedFile("camt.xml", b"<not xml", content_type="application/xml")
    page = admin.post("/payouts/console/", {"action": "camt054", "camt054": upload}, follow=True)
    assert b"Not well-formed XML" in page.content and not PayoutConfirmation.objects.exists()
    page = admin.post("/payouts/console/", {"action": "confirm", "end_to_end_id": "X", "amount": "abc"}, follow=True)
    assert b"Give an amount like 12.34" in page.content
    assert admin.get("/payouts/runs/999/pain001.xml").status_code == 404
