"""Notifications of activation's facts to the premise's organisation (``accounts.notifications``, ADR 0030),
written in the fact's transaction: an event scheduled (dispatched), changed (its window or kW revised), cancelled, a
penalty recorded, and the request to turn a manually controlled device down (the platform cannot command it)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from accounts.models import NotificationKind
from accounts.notifications import notification_create, notifications_create


def _window(event) -> str:
    return _window_of(event, event.start, event.end)


def _window_of(event, start, end) -> str:
    return _window_text(event.premise.timezone, start, end)


@lru_cache(maxsize=1024)
def _window_text(timezone: str, start, end) -> str:
    """The window in the premise's local time (kept per time zone and window: an emergency call's 2,000 events
    share one)."""
    try:
        tz = ZoneInfo(timezone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    s, e = start.astimezone(tz), end.astimezone(tz)
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


def event_changed(event, *, before: tuple, now) -> None:
    """The event's window or kW was revised (``before``: the old (target kW, start, end)); one notification per
    revision (keyed by the revision time), none when nothing the owner sees changed."""
    old_kw, old_start, old_end = before
    if (old_kw, old_start, old_end) == (event.target_kw, event.start, event.end):
        return
    was = _window_of(event, old_start, old_end)
    notification_create(
        organisation_ids=[event.premise.organisation_id],
        kind=NotificationKind.EVENT_CHANGED,
        key=f"event_changed:{event.pk}:{now:%Y%m%dT%H%M%S.%f}",
        title=f"Event changed: now {_window(event)}, reduce by {_kw(event.target_kw)}",
        body=(
            f"The event at {event.premise.name} was {was}, reduce by {_kw(old_kw)}; it is now {_window(event)}, "
            f"reduce by {_kw(event.target_kw)}."
        ),
        url=f"/activation/my-events/{event.pk}/",
        now=now,
    )


def manual_devices_asked(requests: list[tuple], *, now) -> None:
    """The owners of manually controlled devices are asked to turn them down themselves: ``requests`` holds
    (event, [device names]) for each event with such devices; one notification per event, in the dispatch's
    transaction."""
    facts = [
        {
            "organisation_ids": [e.premise.organisation_id],
            "kind": NotificationKind.MANUAL_ACTION,
            "key": f"manual_action:{e.pk}",
            "title": f"Please turn down {_names(names)} {_between(e)}",
            "body": (
                f"{e.premise.name} is asked to reduce by {_kw(e.target_kw)} during {_window(e)}. The platform cannot "
                f"switch {_names(names)} itself: please turn {'it' if len(names) == 1 else 'them'} down "
                f"{_between(e)} and back on afterwards."
            ),
            "url": f"/activation/my-events/{e.pk}/",
        }
        for e, names in requests
        if names
    ]
    if facts:
        notifications_create(facts=facts, now=now)


def _between(event) -> str:
    """ "between 17:00 and 18:30 on 2026-12-07, local time (EST)"."""
    try:
        tz = ZoneInfo(event.premise.timezone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    s, e = event.start.astimezone(tz), event.end.astimezone(tz)
    return f"between {s:%H:%M} and {e:%H:%M} on {s:%Y-%m-%d}, local time ({e.tzname()})"


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


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
    notifications_create(facts=[_penalty_fact(penalty)], now=now)


def penalties_recorded(penalties, *, now) -> None:
    """:func:`penalty_recorded` of many penalties (a verification chunk's), in three queries."""
    if penalties:
        notifications_create(facts=[_penalty_fact(p) for p in penalties], now=now)


def _penalty_fact(penalty) -> dict:
    event = penalty.event
    return {
        "organisation_ids": [penalty.payer_id],
        "kind": NotificationKind.PENALTY,
        "key": f"penalty:{penalty.pk}",
        "title": f"Penalty of {penalty.amount:.2f} for the event {_window(event)}",
        "body": (
            f"{penalty.get_reason_display()}: shortfall {penalty.shortfall_kwh:.3f} kWh × "
            f"{penalty.rate_per_mwh:.2f}/MWh ÷ 1,000 = {penalty.amount:.2f}."
        ),
        "url": f"/activation/my-events/{event.pk}/",
    }
