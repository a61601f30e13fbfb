"""Activation's facts notify the premise's owner in their own transaction (ADR 0030): an event dispatched
(scheduled), an opt-out's penalty with its numbers, the cancellation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Membership, Notification, NotificationKind

pytestmark = pytest.mark.django_db


def test_event_dispatch_cancel_and_penalty_notify_the_premise_owner_in_their_transaction(act_world):
    from activation import services
    from activation.models import Penalty

    w = act_world
    premise = w.premises[0]
    now = timezone.now()
    event = services.event_create(
        program=w.program,
        premise=premise,
        target_kw=Decimal("2"),
        start=now + timedelta(hours=1),
        end=now + timedelta(hours=2),
        now=now,
    )
    owner = Membership.objects.filter(organisation_id=premise.organisation_id).first().user
    kinds = list(Notification.objects.filter(user=owner).values_list("kind", flat=True))
    assert kinds == [NotificationKind.EVENT_SCHEDULED]
    services.event_opt_out(event_id=event.pk, user=owner, now=now)
    penalty = Penalty.objects.get(event=event)
    got = dict(Notification.objects.filter(user=owner).values_list("kind", "title"))
    assert f"Penalty of {penalty.amount:.2f}" in got[NotificationKind.PENALTY]
    assert NotificationKind.EVENT_CANCELLED in got


def _owner(premise):
    return Membership.objects.filter(organisation_id=premise.organisation_id).order_by("pk").first().user


def test_a_revised_event_notifies_its_owner_once_per_revision_and_emails_once(act_world):
    from django.core import mail

    from accounts.notifications import notification_emails_send
    from activation import openadr_services, services

    w = act_world
    premise = w.premises[0]
    event = services.event_create(
        program=w.program,
        premise=premise,
        target_kw=Decimal("2"),
        start=w.now + timedelta(hours=1),
        end=w.now + timedelta(hours=2),
        now=w.now,
    )
    owner = _owner(premise)
    changed = Notification.objects.filter(user=owner, kind=NotificationKind.EVENT_CHANGED)
    revise = {"event_id": event.pk, "target_kw": Decimal("1.5"), "start": w.now + timedelta(minutes=90)}
    openadr_services.oadr_event_update(**revise, end=w.now + timedelta(minutes=150), now=w.now + timedelta(minutes=1))
    # The same values again (a retried PUT): nothing the owner sees changed, nothing notified.
    openadr_services.oadr_event_update(**revise, end=w.now + timedelta(minutes=150), now=w.now + timedelta(minutes=2))
    assert changed.count() == 1
    n = changed.get()
    assert "reduce by 1.50 kW" in n.title and "2.00 kW" in n.body and n.url == f"/activation/my-events/{event.pk}/"
    mail.outbox.clear()
    notification_emails_send()
    notification_emails_send()  # the task delivered twice
    assert [m.subject for m in mail.outbox if m.to == [owner.email]].count(n.title) == 1


def test_a_revision_notifies_no_email_when_the_owner_turned_it_off(act_world):
    from accounts.notifications import notification_preferences_set
    from activation import openadr_services, services

    w = act_world
    premise = w.premises[0]
    owner = _owner(premise)
    notification_preferences_set(user=owner, choices={NotificationKind.EVENT_CHANGED: (True, False)})
    event = services.event_create(
        program=w.program,
        premise=premise,
        target_kw=Decimal("2"),
        start=w.now + timedelta(hours=1),
        end=w.now + timedelta(hours=2),
        now=w.now,
    )
    openadr_services.oadr_event_update(
        event_id=event.pk, target_kw=Decimal("1"), start=event.start, end=event.end, now=w.now + timedelta(minutes=1)
    )
    n = Notification.objects.get(user=owner, kind=NotificationKind.EVENT_CHANGED)
    assert n.email_status == Notification.EmailStatus.SKIPPED and n.in_app


def test_a_manual_device_is_not_commanded_its_owner_is_asked_to_turn_it_down(act_world):
    from accounts.models import Device
    from activation import services
    from activation.models import DeviceDispatch

    w = act_world
    premise, other = w.premises[0], w.premises[2]
    common = {"kind": Device.Kind.POOL_PUMP, "control_channel": Device.Channel.MANUAL, "rated_kw": 1, "max_kw": 1}
    pump = Device.objects.create(premise=premise, name="Garden pump", **common)
    Device.objects.create(premise=other, name="Old heater", active=False, **common)  # declared unavailable
    events = [
        services.event_create(
            program=w.program,
            premise=p,
            target_kw=Decimal("2"),
            start=w.now + timedelta(hours=1),
            end=w.now + timedelta(hours=2),
            now=w.now,
        )
        for p in (premise, other)
    ]
    asked = Notification.objects.filter(kind=NotificationKind.MANUAL_ACTION)
    n = asked.get()
    assert n.user == _owner(premise) and n.url == f"/activation/my-events/{events[0].pk}/"
    local = events[0].start.astimezone(ZoneInfo(premise.timezone))
    end = events[0].end.astimezone(ZoneInfo(premise.timezone))
    assert n.title == (
        f"Please turn down Garden pump between {local:%H:%M} and {end:%H:%M} on {local:%Y-%m-%d}, local time "
        f"({end.tzname()})"
    )
    assert not DeviceDispatch.objects.filter(device=pump).exists()  # never commanded: counted 0 kW


@pytest.mark.parametrize(
    "kind", [NotificationKind.EVENT_SCHEDULED, NotificationKind.EVENT_CANCELLED, NotificationKind.PENALTY]
)
def test_each_event_fact_notifies_once_with_one_email_and_none_when_email_is_off(act_world, kind):
    from django.core import mail

    from accounts.notifications import notification_emails_send, notification_preferences_set
    from activation import services

    w = act_world
    premise, quiet_premise = w.premises[0], w.premises[2]
    quiet = _owner(quiet_premise)
    notification_preferences_set(user=quiet, choices={kind: (True, False)})
    for p in (premise, quiet_premise):
        event = services.event_create(
            program=w.program,
            premise=p,
            target_kw=Decimal("2"),
            start=w.now + timedelta(hours=1),
            end=w.now + timedelta(hours=2),
            now=w.now,
        )
        services.event_opt_out(event_id=event.pk, user=_owner(p), now=w.now)  # cancelled, with a penalty
    owner = _owner(premise)
    n = Notification.objects.get(user=owner, kind=kind)  # exactly one
    mail.outbox.clear()
    notification_emails_send()
    notification_emails_send()  # the task delivered twice
    assert [m.subject for m in mail.outbox if m.to == [owner.email]].count(n.title) == 1
    theirs = Notification.objects.get(user=quiet, kind=kind)  # in the inbox, never emailed
    assert theirs.email_status == Notification.EmailStatus.SKIPPED
    assert theirs.title not in [m.subject for m in mail.outbox if m.to == [quiet.email]]
