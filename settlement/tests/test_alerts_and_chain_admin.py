"""Anchor alerts are resolved through their service with a reason in the audit trail; chain rows are read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import services as accounts_services
from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from settlement.models import AnchorAlert, AuditRecord, ChainAccount, ChainDeployment, PeriodAnchor, SettlementPeriod
from settlement.services.alerts import anchor_alert_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert():
    from datetime import UTC, datetime

    period = SettlementPeriod.objects.create(
        start=datetime(2026, 6, 1, 10, tzinfo=UTC), end=datetime(2026, 6, 1, 11, tzinfo=UTC)
    )
    anchor = PeriodAnchor.objects.create(period=period, root="0x" + "ab" * 32, leaf_count=3, tree_dump={})
    return AnchorAlert.objects.create(anchor=anchor, kind=AnchorAlert.Kind.CHAIN_MISMATCH, detail="root differs")


def _user(email, kind, role, *, staff=False):
    org = accounts_services.organisation_create(name=email, kind=kind)
    user = accounts_services.user_create(email=email, password="x-pass-123", organisation=org, role=role)
    if staff:
        user.is_staff = user.is_superuser = True
        user.save()
        totp_activate(user=user, secret="JBSWY3DPEHPK3PXP")
    return user


def test_resolving_needs_a_reason_and_an_admin_and_happens_once(alert):
    admin = _user("a@t.flex", Organisation.Kind.PLATFORM, Membership.Role.ADMIN)
    auditor = _user("au@t.flex", Organisation.Kind.PLATFORM, Membership.Role.AUDITOR)
    with pytest.raises(NotPermitted):
        anchor_alert_resolve(alert_id=alert.pk, by=auditor, reason="looked")
    with pytest.raises(ApplicationError) as exc:
        anchor_alert_resolve(alert_id=alert.pk, by=admin, reason="  ")
    assert "reason" in exc.value.fields
    alert.refresh_from_db()
    assert alert.resolved_at is None and not AuditRecord.objects.exists()
    anchor_alert_resolve(alert_id=alert.pk, by=admin, reason="Re-anchored in tx 0xabc.")
    with pytest.raises(Conflict):
        anchor_alert_resolve(alert_id=alert.pk, by=admin, reason="again")
    record = AuditRecord.objects.get()
    assert record.action == "anchor_alert_resolved" and record.object_id == alert.pk and record.actor == admin
    assert record.data == {"kind": "chain_mismatch", "reason": "Re-anchored in tx 0xabc."}


def test_the_admin_action_resolves_through_the_service_with_the_typed_reason(alert):
    client = Client()
    client.force_login(_user("boss@t.flex", Organisation.Kind.PLATFORM, Membership.Role.ADMIN, staff=True))
    url = "/admin/settlement/anchoralert/"
    post = {"action": "mark_resolved", "_selected_action": [alert.pk], "reason": ""}
    client.post(url, post, follow=True)
    alert.refresh_from_db()
    assert alert.resolved_at is None  # no reason: refused, nothing changed
    client.post(url, {**post, "reason": "False alarm: RPC node was behind."}, follow=True)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert AuditRecord.objects.get().data["reason"] == "False alarm: RPC node was behind."


def test_chain_deployment_and_account_rows_cannot_be_edited_in_the_admin():
    deployment = ChainDeployment.objects.create(address="0x" + "11" * 20, chain_id=31337, rpc_url="http://x")
    account = ChainAccount.objects.create(address="0x" + "22" * 20, chain_id=31337, next_nonce=7)
    client = Client()
    client.force_login(_user("boss@t.flex", Organisation.Kind.PLATFORM, Membership.Role.ADMIN, staff=True))
    page = client.get(f"/admin/settlement/chainaccount/{account.pk}/change/")
    assert page.status_code == 200 and b'name="next_nonce"' not in page.content and b'name="_save"' not in page.content
    assert client.post(f"/admin/settlement/chainaccount/{account.pk}/change/", {"next_nonce": 0}).status_code == 403
    account.refresh_from_db()
    assert account.next_nonce == 7
    assert client.post(f"/admin/settlement/chaindeployment/{deployment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/settlement/chaindeployment/add/").status_code == 403
    assert ChainDeployment.objects.filter(pk=deployment.pk).exists()
