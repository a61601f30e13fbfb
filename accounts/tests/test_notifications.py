"""Notifications (ADR 0030): written with their fact, once per user and fact, honouring preferences; the email
outbox sends each at most once (a task delivered twice sends nothing twice)."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Membership, Notification, NotificationKind
from accounts.notifications import (
    notification_create,
    notification_emails_send,
    notification_preferences_set,
    unread_count,
)

pytestmark = pytest.mark.django_db


def test_unknown_kind_is_refused_and_writes_nothing(world):
    with pytest.raises(ValueError):
        notification_create(organisation_ids=[world.premises[0].organisation_id], kind="gossip", key="k", title="t")
    assert not Notification.objects.exists()


def test_one_notification_per_member_and_fact_and_one_email_each(world):
    org = world.premises[0].organisation_id
    members = Membership.objects.filter(organisation_id=org).count()
    args = {"organisation_ids": [org], "kind": NotificationKind.PAYMENT, "key": "payment:x", "title": "Paid 1.00 USD"}
    assert notification_create(**args) == members
    notification_create(**args)  # the same fact again: nothing new
    assert Notification.objects.filter(key="payment:x").count() == members
    mail.outbox.clear()
    assert notification_emails_send() == members
    assert notification_emails_send() == 0  # delivered twice: sent once
    assert len(mail.outbox) == members and mail.outbox[0].subject == "Paid 1.00 USD"


def test_preferences_skip_the_email_or_the_inbox(world):
    org = world.premises[0].organisation_id
    user = Membership.objects.filter(organisation_id=org).first().user
    notification_preferences_set(user=user, choices={NotificationKind.PENALTY: (True, False)})
    notification_create(organisation_ids=[org], kind=NotificationKind.PENALTY, key="p1", title="Penalty")
    n = Notification.objects.get(user=user, key="p1")
    assert n.email_status == Notification.EmailStatus.SKIPPED and unread_count(user) == 1
    notification_preferences_set(user=user, choices={NotificationKind.PENALTY: (False, False)})
    notification_create(organisation_ids=[org], kind=NotificationKind.PENALTY, key="p2", title="Penalty")
    assert not Notification.objects.filter(user=user, key="p2").exists()


def _once_and_emailed_once(user, kind) -> Notification:
    """Exactly one notification of ``kind`` in the user's inbox, and one email even if the task runs twice."""
    n = Notification.objects.get(user=user, kind=kind)
    mail.outbox.clear()
    notification_emails_send()
    notification_emails_send()  # the task delivered twice
    assert [m.subject for m in mail.outbox if m.to == [user.email]] == [n.title]
    return n


@pytest.mark.parametrize("email_wanted", [True, False])
def test_a_kyc_decision_notifies_once_with_one_email_unless_the_owner_turned_email_off(email_wanted):
    from accounts import services as accounts_services
    from accounts.kyc.providers import ManualReviewProvider
    from accounts.kyc.services import verification_case_decide, verification_case_submit
    from accounts.models import Organisation
    from accounts.tests.test_services_kyc import _case, _consumer

    org, user = _consumer("Notified Home")
    if not email_wanted:
        notification_preferences_set(user=user, choices={NotificationKind.KYC_DECISION: (True, False)})
    case = verification_case_submit(case=_case(org, user), by=user, provider=ManualReviewProvider())
    platform = accounts_services.organisation_create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = accounts_services.user_create(email="rev@t.flex", password="x-pass-123", organisation=platform)
    verification_case_decide(case=case, reviewer=admin, approve=True, reason="Passport checked by hand.")
    if email_wanted:
        n = _once_and_emailed_once(user, NotificationKind.KYC_DECISION)
        assert n.title == "Your identity check is approved"
    else:
        n = Notification.objects.get(user=user, kind=NotificationKind.KYC_DECISION)
        mail.outbox.clear()
        notification_emails_send()
        assert n.in_app and mail.outbox == []
