"""Read models of the consumer's home (what's next, what did I earn, what needs action) and of one event (baseline
vs actual per interval in the premise's local time, the money or the penalty with the rule behind it).

Bounded queries: the home reads at most ``UPCOMING`` events and aggregates the month's items in the database, so
its query count does not grow with the consumer's events or payments."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from accounts import policies
from accounts.models import Consent, Membership, VerificationCase
from activation.models import DREvent, Penalty
from activation.selectors import events_visible_to
from settlement.selectors import money_home, settlement_items_for

from . import formatting as fmt
from .selectors import CONSENT_WARNING_DAYS, consumer_premises, onboarding_meters

UPCOMING = 5
LATEST_EVENTS = 20


def _month_start(now: datetime, tz_name: str) -> datetime:
    local = now.astimezone(fmt.zone(tz_name))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def upcoming_events(user, *, now: datetime, limit: int = UPCOMING, events: list | None = None) -> list[dict]:
    """The next events of the user's premises: window in the premise's time, the notice given, what is asked.
    ``events``: rows already read that include the next ``limit`` (:func:`home_events`), else read here."""
    open_statuses = (DREvent.Status.SCHEDULED, DREvent.Status.NOTIFIED, DREvent.Status.ACTIVE)
    if events is None:
        events = (
            events_visible_to(user)
            .filter(status__in=open_statuses, end__gt=now)
            .select_related("premise", "program")
            .order_by("start")[:limit]
        )
    else:
        events = sorted((e for e in events if e.status in open_statuses and e.end > now), key=lambda e: e.start)
        events = events[:limit]
    out = []
    for e in events:
        notice = e.start - (e.notified_at or e.created_at)
        out.append(
            {
                "event": e,
                "window": fmt.local_window(e.start, e.end, e.premise.timezone),
                "notice": _duration(notice),
                "asked": fmt.kw(e.target_kw),
                "starts_in": _duration(e.start - now) if e.start > now else "running now",
            }
        )
    return out


def home_events(user, *, now: datetime, latest: int = LATEST_EVENTS, upcoming: int = UPCOMING) -> list[DREvent]:
    """In one query: the user's ``latest`` events by start and its next ``upcoming`` open ones (the home's two
    lists, split by :func:`upcoming_events` and :func:`latest_events`)."""
    open_statuses = (DREvent.Status.SCHEDULED, DREvent.Status.NOTIFIED, DREvent.Status.ACTIVE)
    visible = events_visible_to(user)
    last = visible.order_by("-start", "-pk").values("pk")[:latest]
    coming = visible.filter(status__in=open_statuses, end__gt=now).order_by("start", "pk").values("pk")[:upcoming]
    return list(visible.filter(Q(pk__in=last) | Q(pk__in=coming)))


def latest_events(events: list[DREvent], *, limit: int = LATEST_EVENTS) -> list[DREvent]:
    return sorted(events, key=lambda e: (e.start, e.pk), reverse=True)[:limit]


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"


def month_earnings(orgs, *, now: datetime, tz_name: str, totals: dict | None = None) -> list[dict]:
    """This month's settled amounts per currency or token (fiat first), summed in the database (``totals``: unit ->
    amount already read by :func:`settlement.selectors.money_home`)."""
    start = _month_start(now, tz_name)
    if totals is None:
        rows = (
            settlement_items_for(organisations=orgs)
            .filter(delivery_start__gte=start)
            .values("currency")
            .annotate(total=Sum("amount"))
            .order_by("currency")
        )
        totals = {r["currency"]: r["total"] for r in rows}
    out = [
        {"unit": unit, "total": total or Decimal("0"), "text": fmt.amount(total, unit)}
        for unit, total in sorted(totals.items())
    ]
    return sorted(
        out, key=lambda r: (not fmt.amount(0, r["unit"]).endswith(r["unit"]) or len(r["unit"]) != 3, r["unit"])
    )


def needs_action(user, orgs, *, premises, now: datetime) -> list[dict]:
    """What the consumer must do: the identity check (KYC), consents about to expire, meters not validated (why).
    ``premises``: from :func:`portal.selectors.consumer_premises` (the latest case and expiring consents flagged
    on them, meters with their status), so nothing is read here unless a consent expires soon."""
    items: list[dict] = []
    flagged = [p for p in premises if p.kyc_pk is not None]
    if premises:
        latest = max(flagged, key=lambda p: p.kyc_pk) if flagged else None
        status = latest.kyc_status if latest is not None else None
    else:
        case = VerificationCase.objects.filter(organisation__in=orgs).order_by("-pk").first()
        status = case.status if case is not None else None
    if status is None or status == VerificationCase.Status.DRAFT:
        items.append(
            {
                "kind": "kyc",
                "text": "Upload an identity document so you can be paid.",
                "url": "portal:onboarding-step",
                "arg": "kyc",
            }
        )
    elif status in (VerificationCase.Status.REJECTED, VerificationCase.Status.EXPIRED):
        items.append(
            {
                "kind": "kyc",
                "text": f"Your identity check is {VerificationCase.Status(status).label.lower()}: upload a new document.",
                "url": "portal:onboarding-step",
                "arg": "kyc",
            }
        )
    soon = now + timedelta(days=CONSENT_WARNING_DAYS)
    expiring = [p for p in premises if p.consent_expiring]
    for c in (
        Consent.objects.filter(premise__in=expiring, status=Consent.Status.ACTIVE, expires_at__lte=soon)
        .select_related("premise", "aggregator")
        .order_by("pk")
        if expiring
        else []
    ):
        items.append(
            {
                "kind": "consent",
                "text": f"Your consent to {c.aggregator.name} for {c.premise.name} expires on {fmt.local(c.expires_at, c.premise.timezone)}.",
                "url": "portal:consents",
                "arg": None,
            }
        )
    for row in onboarding_meters(premises, prefetched=True):
        if not row["validated"]:
            items.append(
                {
                    "kind": "meter",
                    "text": f"Meter {row['meter'].meter_id}: {row['state']}",
                    "url": "portal:meter-upload",
                    "arg": None,
                }
            )
    return items


def consumer_home(*, user, currency: str, now: datetime | None = None, premises: list | None = None) -> dict:
    """What's next, what did I earn, what needs action, and the latest events (one read of the premises and one
    of the events)."""
    now = now or timezone.now()
    orgs = policies.organisations(user, role=Membership.Role.CONSUMER)
    premises = consumer_premises(user) if premises is None else premises
    tz_name = premises[0].timezone if premises else "UTC"
    events = home_events(user, now=now)
    earnings, month = money_home(organisations=orgs, currency=currency, since=_month_start(now, tz_name))
    return {
        "premises": premises,
        "earnings": earnings,
        "upcoming": upcoming_events(user, now=now, events=events),
        "events": latest_events(events),
        "month": month_earnings(orgs, now=now, tz_name=tz_name, totals=month),
        "month_start": _month_start(now, tz_name),
        "actions": needs_action(user, orgs, premises=premises, now=now),
        "tz_name": tz_name,
    }


def event_detail(*, event: DREvent, currency: str) -> dict:
    """One event for its consumer: intervals in the premise's local time, delivery against the commitment, the
    baseline (method and days used), its money and tokens, its penalties with the rule and numbers behind them."""
    tz_name = event.premise.timezone
    verification = getattr(event, "verification", None)
    intervals, chart = [], {"labels": [], "baseline": [], "actual": []}
    baseline = None
    if verification is not None:
        for i in verification.intervals.order_by("start"):
            label = i.start.astimezone(fmt.zone(tz_name)).strftime("%H:%M")
            intervals.append(
                {"label": label, "baseline": i.baseline_kwh, "actual": i.actual_kwh, "delivered": i.delivered_kwh}
            )
            chart["labels"].append(label)
            chart["baseline"].append(float(i.baseline_kwh))  # chart display only
            chart["actual"].append(float(i.actual_kwh))
        baseline = verification.baseline
    share = None
    if verification is not None and verification.committed_kwh:
        share = (100 * verification.delivered_kwh / verification.committed_kwh).quantize(Decimal("0.1"))
    items = list(event.settlements.order_by("delivery_start", "pk"))
    penalties = [
        {
            "penalty": p,
            "rule": (
                f"{p.get_reason_display()}: shortfall {fmt.kwh(p.shortfall_kwh, 3)} × {fmt.price_mwh(p.rate_per_mwh, currency)}"
                f" ÷ 1,000 = {fmt.money(p.amount, currency)}"
            ),
        }
        for p in Penalty.objects.filter(event=event).order_by("pk")
    ]
    totals: dict[str, Decimal] = {}
    for it in items:
        totals[it.currency] = totals.get(it.currency, Decimal("0")) + it.amount
    return {
        "event": event,
        "tz_name": tz_name,
        "window": fmt.local_window(event.start, event.end, tz_name),
        "verification": verification,
        "share": share,
        "baseline": baseline,
        "intervals": intervals,
        "chart": chart,
        "items": items,
        "totals": [{"unit": u, "text": fmt.amount(v, u)} for u, v in sorted(totals.items())],
        "penalties": penalties,
        "opt_out": getattr(event, "opt_out", None),
    }


def consumer_event(user, pk: int) -> DREvent | None:
    """The event ``pk`` when it is for one of the user's premises, else None."""
    return events_visible_to(user).select_related("premise", "program", "verification__baseline").filter(pk=pk).first()


def opt_out_preview(*, event: DREvent, now: datetime, currency: str) -> dict:
    """What opting ``event`` out now would cost, under its program's rule, in words and numbers (the same
    computation the opt-out records: :func:`activation.services.penalties.opt_out_terms`)."""
    from activation.services.penalties import opt_out_terms
    from activation.services.programs import market_program

    program = event.program or market_program()
    terms = opt_out_terms(event=event, program=program, now=now)
    over = event.status in (DREvent.Status.COMPLETED, DREvent.Status.CANCELLED) or now >= event.end
    if terms["penalty"] is not None:
        rule = (
            f"{program.name}: opting out {'during' if terms['phase'] == 'during' else 'before'} the event is charged as "
            f"a shortfall: the {fmt.kwh(terms['shortfall_kwh'], 3)} still committed ({fmt.kw(event.target_kw)} × the "
            f"hours left) × {fmt.price_mwh(terms['rate_per_mwh'], currency)} ÷ 1,000"
        )
    elif terms["consequence"] == "forfeit":
        rule = f"{program.name}: you are not paid for this event (the payment is forfeited); no penalty."
    else:
        rule = f"{program.name}: opting out has no consequence."
    return {
        "terms": terms,
        "rule": rule,
        "penalty_text": fmt.money(terms["penalty"], currency) if terms["penalty"] is not None else None,
        "window": fmt.local_window(event.start, event.end, event.premise.timezone),
        "over": over,
    }
