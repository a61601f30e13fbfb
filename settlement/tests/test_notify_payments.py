"""Settlement's facts notify the payee once (ADR 0030): the settled payment and a dispute's outcome, each one
notification in the inbox and one email even when the email task runs twice; none by email when turned off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from accounts.models import Membership, Notification, NotificationKind
from accounts.notifications import notification_emails_send, notification_preferences_set
from settlement.models import SettlementItem
from settlement.services.disputes import dispute_open, dispute_resolve
from settlement.services.runs import settlement_run_execute

from .factories import event_make, world_make

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 3, 10, tzinfo=UTC)


def _member(org, email, role=Membership.Role.CONSUMER):
    user = get_user_model().objects.create_user(username=email, email=email, password="x")
    Membership.objects.create(user=user, organisation=org, role=role)
    return user


def _emailed_once(user, kind) -> Notification:
    n = Notification.objects.get(user=user, kind=kind)  # exactly one
    mail.outbox.clear()
    notification_emails_send()
    notification_emails_send()  # the task delivered twice
    assert [m.subject for m in mail.outbox if m.to == [user.email]].count(n.title) == 1
    return n


def _settled_world():
    w = world_make(n=2)
    payee, quiet = _member(w.consumers[0], "payee@t.flex"), _member(w.consumers[1], "quiet@t.flex")
    for kind in (NotificationKind.PAYMENT, NotificationKind.DISPUTE_OUTCOME):
        notification_preferences_set(user=quiet, choices={kind: (True, False)})
    for p in w.premises:
        event_make(w, p, start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4)
    for _ in range(2):  # a repeated run pays and notifies nothing twice
        settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=DAY + timedelta(days=2))
    return w, payee, quiet


def test_a_settled_payment_notifies_the_payee_once_with_one_email():
    w, payee, quiet = _settled_world()
    n = _emailed_once(payee, NotificationKind.PAYMENT)
    assert n.title.startswith("Settled: ") and "USD" in n.title
    theirs = Notification.objects.get(user=quiet, kind=NotificationKind.PAYMENT)
    assert theirs.email_status == Notification.EmailStatus.SKIPPED


def test_a_dispute_outcome_notifies_the_payee_once_with_one_email():
    w, payee, quiet = _settled_world()
    platform = w.operator.__class__.objects.create(name="Platform", kind="platform")
    admin = _member(platform, "admin@t.flex", role=Membership.Role.ADMIN)
    for org, user in ((w.consumers[0], payee), (w.consumers[1], quiet)):
        item = SettlementItem.objects.filter(payee=org, currency="USD", amount__gt=0).order_by("pk").first()
        d = dispute_open(item=item, user=user, organisations=[org], reason="Delivered more than paid.")
        dispute_resolve(dispute_id=d.pk, admin=admin, uphold=False, resolution="The meter data stands.")
    n = _emailed_once(payee, NotificationKind.DISPUTE_OUTCOME)
    assert n.title.endswith("was rejected")
    theirs = Notification.objects.get(user=quiet, kind=NotificationKind.DISPUTE_OUTCOME)
    assert theirs.email_status == Notification.EmailStatus.SKIPPED
