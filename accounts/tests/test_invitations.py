"""Membership by invitation: who may invite (wrong role, wrong tenant refused first), the role rules, one open
invitation per address, expiry, the invited address only, accepting once, and the whole flow through the portal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import invitations
from accounts import services as accounts_services
from accounts.models import Invitation, Membership, Organisation
from flexplatform.errors import ApplicationError, Conflict, NotFound, NotPermitted

pytestmark = pytest.mark.django_db
R = Membership.Role


@pytest.fixture
def orgs():
    agg = accounts_services.organisation_create(name="Volt Agg", kind=Organisation.Kind.AGGREGATOR)
    owner = accounts_services.user_create(email="owner@agg.flex", password="x-pass-123", organisation=agg)
    staff = accounts_services.user_create(email="staff@agg.flex", password="x-pass-123", organisation=agg)
    other = accounts_services.organisation_create(name="Other Agg", kind=Organisation.Kind.AGGREGATOR)
    other_owner = accounts_services.user_create(email="boss@other.flex", password="x-pass-123", organisation=other)
    return {"agg": agg, "owner": owner, "staff": staff, "other": other, "other_owner": other_owner}


def _invite(orgs, **kw):
    args = {"organisation": orgs["agg"], "email": "new@agg.flex", "role": R.AGGREGATOR, "by": orgs["owner"]}
    return invitations.invitation_create(**{**args, **kw}, accept_url="http://testserver/invitations/")


def test_the_first_member_manages_members_and_a_later_one_does_not(orgs):
    first = Membership.objects.get(user=orgs["owner"])
    later = Membership.objects.get(user=orgs["staff"])
    assert first.manages_members and not later.manages_members


def test_refusals_wrong_role_wrong_tenant_auditor_bad_fields(orgs):
    with pytest.raises(NotPermitted):
        _invite(orgs, by=orgs["staff"])  # a member who does not manage members
    with pytest.raises(NotPermitted):
        _invite(orgs, by=orgs["other_owner"])  # another organisation's manager
    platform = accounts_services.organisation_create(name="Plat", kind=Organisation.Kind.PLATFORM)
    auditor = accounts_services.user_create(email="aud@p.flex", password="x", organisation=platform, role=R.AUDITOR)
    with pytest.raises(NotPermitted):
        _invite(orgs, by=auditor)
    with pytest.raises(ApplicationError) as exc:
        _invite(orgs, email="not-an-email", role=R.GRID_OPERATOR)
    assert set(exc.value.fields) == {"email", "role"}
    with pytest.raises(Conflict):
        _invite(orgs, email="staff@agg.flex")  # already a member
    assert not Invitation.objects.exists() and not mail.outbox


def test_one_open_invitation_per_address_and_the_email_carries_a_working_link(orgs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        issued = _invite(orgs)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@agg.flex"]
    assert f"http://testserver/invitations/{issued.token}/" in mail.outbox[0].body
    assert Invitation.objects.get().token_hash != issued.token  # stored hashed
    with pytest.raises(Conflict):
        _invite(orgs)
    invitations.invitation_revoke(invitation_id=issued.invitation.pk, by=orgs["owner"])
    with pytest.raises(Conflict):
        invitations.invitation_accept_new_account(token=issued.token, password="a-Long-pass-9182")
    _invite(orgs)  # after the withdrawal a new one may be sent


def test_revoking_another_tenants_invitation_is_not_found(orgs):
    issued = _invite(orgs)
    with pytest.raises(NotFound):
        invitations.invitation_revoke(invitation_id=issued.invitation.pk, by=orgs["other_owner"])


def test_only_the_invited_address_accepts_and_only_once(orgs):
    issued = _invite(orgs, email="staff2@agg.flex", manages_members=True)
    with pytest.raises(NotPermitted):
        invitations.invitation_accept(token=issued.token, user=orgs["other_owner"])
    other_org = accounts_services.organisation_create(name="Home", kind=Organisation.Kind.CONSUMER)
    invitee = accounts_services.user_create(email="Staff2@agg.flex", password="x-pass-123", organisation=other_org)
    membership = invitations.invitation_accept(token=issued.token, user=invitee)
    assert membership.role == R.AGGREGATOR and membership.manages_members
    with pytest.raises(Conflict):
        invitations.invitation_accept(token=issued.token, user=invitee)
    assert Membership.objects.filter(user=invitee, organisation=orgs["agg"]).count() == 1


def test_an_expired_invitation_is_refused_and_a_new_one_may_be_sent(orgs):
    issued = _invite(orgs)
    Invitation.objects.filter(pk=issued.invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Conflict, match="expired"):
        invitations.invitation_accept_new_account(token=issued.token, password="a-Long-pass-9182")
    _invite(orgs)
    with pytest.raises(NotFound):
        invitations.invitation_accept_new_account(token="forged", password="a-Long-pass-9182")


def test_the_flow_through_the_portal_invite_email_link_new_account(orgs, django_capture_on_commit_callbacks):
    owner = Client()
    owner.force_login(orgs["owner"])
    page = owner.get("/settings/members/")
    assert page.status_code == 200 and b"Invite a member" in page.content
    refused = owner.post("/settings/members/", {"action": "invite", "email": "nope", "role": R.AGGREGATOR})
    assert refused.status_code == 400 and b"Enter a valid email address." in refused.content
    with django_capture_on_commit_callbacks(execute=True):
        sent = owner.post("/settings/members/", {"action": "invite", "email": "joiner@agg.flex", "role": R.AGGREGATOR})
    assert sent.status_code == 302
    link = re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    staff = Client()
    staff.force_login(orgs["staff"])
    assert (
        staff.post("/settings/members/", {"action": "invite", "email": "x@agg.flex", "role": "aggregator"}).status_code
        == 403
    )
    invitee = Client()
    landing = invitee.get(link)
    assert landing.status_code == 200 and b"Create your account" in landing.content
    weak = invitee.post(link, {"password": "123"})
    assert weak.status_code == 400 and not Membership.objects.filter(user__email="joiner@agg.flex").exists()
    joined = invitee.post(link, {"password": "a-Long-pass-9182"}, follow=True)
    assert b"Welcome to Volt Agg" in joined.content
    assert Membership.objects.get(user__email="joiner@agg.flex").organisation == orgs["agg"]
    again = Client().get(link)
    assert b"already accepted" in again.content
    listing = owner.get("/settings/members/")
    assert b"joiner@agg.flex" in listing.content
    assert Client().get("/invitations/not-a-token/").status_code == 404
