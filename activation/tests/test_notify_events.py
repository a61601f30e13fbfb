"""Activation's facts notify the premise's owner in their own transaction (ADR 0030): an event dispatched
(scheduled), an opt-out's penalty with its numbers, the cancellation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

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
