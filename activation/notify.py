"""Notifications of activation's facts to the premise's organisation (``accounts.notifications``, ADR 0030),
written in the fact's transaction: an event scheduled (dispatched), cancelled, a penalty recorded."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from accounts.models import NotificationKind
from accounts.notifications import notification_create, notifications_create


def _window(event) -> str:
    try:
        tz = ZoneInfo(event.premise.timezone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    s, e = event.start.astimezone(tz), event.end.astimezone(tz)
    return f"{s:%Y-%m-%d %H:%M}–{e:%H:%M} {e.tzname()}"


def _kw(value) -> str:
    return f"{value:.2f} kW"


def events_scheduled(events, *, now) -> None:
    """One notification per event (to its premise's organisation), all in three queries."""
    facts = [
        {
            "organisation_ids": [e.premise.organisation_id],
            "kind": NotificationKind.EVENT_SCHEDULED,
            "key": f"event_scheduled:{e.pk}",
            "title": f"Event scheduled {_window(e)}: reduce by {_kw(e.target_kw)}",
            "body": f"{e.premise.name} is asked to reduce by {_kw(e.target_kw)} during {_window(e)}.",
            "url": f"/activation/my-events/{e.pk}/",
        }
        for e in events
    ]
    notifications_create(facts=facts, now=now)


def event_cancelled(event, *, reason: str, now) -> None:
    notification_create(
        organisation_ids=[event.premise.organisation_id],
        kind=NotificationKind.EVENT_CANCELLED,
        key=f"event_cancelled:{event.pk}",
        title=f"Event cancelled {_window(event)}",
        body=f"The event at {event.premise.name} during {_window(event)} is cancelled ({reason}).",
        url=f"/activation/my-events/{event.pk}/",
        now=now,
    )


def penalty_recorded(penalty, *, now) -> None:
    event = penalty.event
    notification_create(
        organisation_ids=[penalty.payer_id],
        kind=NotificationKind.PENALTY,
        key=f"penalty:{penalty.pk}",
        title=f"Penalty of {penalty.amount:.2f} for the event {_window(event)}",
        body=(
            f"{penalty.get_reason_display()}: shortfall {penalty.shortfall_kwh:.3f} kWh × "
            f"{penalty.rate_per_mwh:.2f}/MWh ÷ 1,000 = {penalty.amount:.2f}."
        ),
        url=f"/activation/my-events/{event.pk}/",
        now=now,
    )
