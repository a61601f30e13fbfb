"""'Statement ready' (ADR 0030): the run that settles a month's last day notifies each payee once that the month's
statement is ready (December's also the tax statement); a repeated run notifies nothing twice, the email leaves
once, and a member who turned the email off gets none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from accounts.models import Membership, Notification, NotificationKind
from accounts.notifications import notification_emails_send, notification_preferences_set
from settlement.services.runs import settlement_run_execute
from settlement.services.statement_notices import month_boundaries

from .factories import event_make, world_make

pytestmark = pytest.mark.django_db


def _member(org, email):
    user = get_user_model().objects.create_user(username=email, email=email, password="x")
    Membership.objects.create(user=user, organisation=org, role=Membership.Role.CONSUMER)
    return user


def test_month_boundaries_are_the_months_a_window_closes():
    assert month_boundaries(datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)) == []
    assert month_boundaries(datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)) == [
        datetime(2026, 4, 1, tzinfo=UTC)
    ]
    assert month_boundaries(datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == [
        datetime(2027, 1, 1, tzinfo=UTC)
    ]


def test_a_run_inside_a_month_notifies_no_statement():
    w = world_make(n=1)
    user = _member(w.consumers[0], "payee@t.flex")
    day = datetime(2026, 3, 10, tzinfo=UTC)
    event_make(
        w, w.premises[0], start=day + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4
    )
    settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=day + timedelta(days=2))
    assert not Notification.objects.filter(user=user, kind=NotificationKind.STATEMENT_READY).exists()


def test_the_run_closing_a_month_notifies_each_payee_once_and_emails_once():
    w = world_make(n=2)
    payee = _member(w.consumers[0], "payee@t.flex")
    quiet = _member(w.consumers[1], "quiet@t.flex")
    notification_preferences_set(user=quiet, choices={NotificationKind.STATEMENT_READY: (True, False)})
    day = datetime(2026, 3, 31, tzinfo=UTC)
    for p in w.premises:
        event_make(w, p, start=day + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4)
    now = day + timedelta(days=2)
    settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=now)
    settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=now)  # a repeat
    mine = Notification.objects.filter(user=payee, kind=NotificationKind.STATEMENT_READY)
    assert [n.title for n in mine] == ["Your statement for March 2026 is ready"]
    assert mine.get().url == "/consumer/money/"
    mail.outbox.clear()
    notification_emails_send()
    notification_emails_send()  # the email task delivered twice
    statement_mails = [m for m in mail.outbox if "statement" in m.subject]
    assert [m.to for m in statement_mails] == [["payee@t.flex"]]
    theirs = Notification.objects.get(user=quiet, kind=NotificationKind.STATEMENT_READY)
    assert theirs.email_status == Notification.EmailStatus.SKIPPED


def test_december_closes_the_year_the_tax_statement_is_ready_too():
    w = world_make(n=1)
    payee = _member(w.consumers[0], "payee@t.flex")
    day = datetime(2026, 12, 31, tzinfo=UTC)
    event_make(
        w, w.premises[0], start=day + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4
    )
    settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=day + timedelta(days=2))
    titles = sorted(
        Notification.objects.filter(user=payee, kind=NotificationKind.STATEMENT_READY).values_list("title", flat=True)
    )
    assert titles == ["Your 2026 tax statement is ready", "Your statement for December 2026 is ready"]
