"""The anchor audit: a settlement row changed after anchoring is flagged, in the admin and on the console."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from accounts.services import organisation_create, user_create
from demo import TOTP_SECRET
from settlement.chain import reset_eth_tester
from settlement.models import AnchorAlert, PeriodAnchor
from settlement.services import anchoring
from settlement.services.anchoring import periods_anchor_closed
from settlement.tasks import audit_anchors
from settlement.tests.anchoring_helpers import closed_hours, items_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def chain(settings):
    name = f"audit-{uuid.uuid4().hex[:8]}"
    settings.CHAIN_RPC_URL = f"eth-tester://{name}"
    anchoring._client.cache_clear()
    yield
    anchoring._client.cache_clear()
    reset_eth_tester(name)


def _console_client(*, staff: bool) -> Client:
    operator = organisation_create(name="Audit grid operator", kind=Organisation.Kind.GRID_OPERATOR)
    user = user_create(
        email=f"op-{staff}@audit.test", password="x", organisation=operator, role=Membership.Role.GRID_OPERATOR
    )
    if staff:
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    totp_activate(user=user, secret=TOTP_SECRET)  # operators and admins must have MFA
    client = Client()
    client.force_login(user)
    return client


def test_audit_flags_a_settlement_row_changed_after_anchoring() -> None:
    items = items_create(closed_hours(3))
    periods_anchor_closed()
    assert PeriodAnchor.objects.filter(status=PeriodAnchor.Status.CONFIRMED).count() == 3

    out = StringIO()
    call_command("audit_anchors", "--fail", stdout=out)
    assert "checked 3 anchored periods, 0 difference(s)" in out.getvalue()
    assert audit_anchors() == 0
    page = _console_client(staff=False).get("/operator/")
    assert page.status_code == 200 and 'data-testid="anchor-alerts"' not in page.content.decode()

    tampered = items[4]  # second hour
    with connection.cursor() as cursor:
        cursor.execute("UPDATE settlement_settlementitem SET amount = amount + 1 WHERE id = %s", [tampered.pk])

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_anchors", "--fail", stdout=out)
    assert "ALERT database_changed" in out.getvalue()
    alert = AnchorAlert.objects.get()
    assert alert.kind == AnchorAlert.Kind.DATABASE_CHANGED
    assert alert.anchor.period_id == tampered.period_id
    assert alert.anchor.root in alert.detail
    # The periodic task finds the same difference and does not open a second alert.
    assert audit_anchors() == 1
    assert AnchorAlert.objects.filter(resolved_at__isnull=True).count() == 1

    staff = _console_client(staff=True)
    page = staff.get("/operator/").content.decode()
    assert 'data-testid="anchor-alerts"' in page and "1 settlement integrity alert" in page
    changelist = staff.get("/admin/settlement/anchoralert/")
    assert changelist.status_code == 200
    assert "Settlement rows differ from the anchored root" in changelist.content.decode()


def test_audit_flags_a_root_missing_on_chain() -> None:
    items_create(closed_hours(1))
    periods_anchor_closed()
    anchor = PeriodAnchor.objects.get()
    # The chain is replaced by a fresh one (e.g. a reset test network): the contract has no root.
    anchoring._client.cache_clear()
    reset_eth_tester()
    client = anchoring.chain_client()
    client.deploy()
    anchor.deployment.address = client.contract_address
    anchor.deployment.save(update_fields=["address"])

    call_command("audit_anchors", stdout=StringIO())

    assert AnchorAlert.objects.get().kind == AnchorAlert.Kind.MISSING_ON_CHAIN
