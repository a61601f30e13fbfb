"""Read models of the consumer's home (what's next, what did I earn, what needs action) and of one event (baseline
vs actual per interval in the premise's local time, the money or the penalty with the rule behind it).

Bounded queries: the home reads at most ``UPCOMING`` events and aggregates the month's items in the database, so
its query count does not grow with the consumer's events or payments."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts import policies
from accounts.models import Consent, Membership, VerificationCase
from accounts.policies import premises_visible_to
from activation.models import DREvent, Penalty
from activation.selectors import events_visible_to
from settlement.selectors import settlement_items_for

from . import formatting as fmt
from .selectors import onboarding_meters

UPCOMING = 5
CONSENT_WARNING_DAYS = 30


def _month_start(now: datetime, tz_name: str) -> datetime:
    local = now.astimezone(fmt.zone(tz_name))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def upcoming_events(user, *, now: datetime, limit: int = UPCOMING) -> list[dict]:
    """The next events of the user's premises: window in the premise's time, the notice given, what is asked."""
    open_statuses = (DREvent.Status.SCHEDULED, DREvent.Status.NOTIFIED, DREvent.Status.ACTIVE)
    events = (
        events_visible_to(user)
        .filter(status__in=open_statuses, end__gt=now)
        .select_related("premise", "program")
        .order_by("start")[:limit]
    )
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


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"


def month_earnings(orgs, *, now: datetime, tz_name: str) -> list[dict]:
    """This month's settled amounts per currency or token (fiat first), summed in the database."""
    start = _month_start(now, tz_name)
    rows = (
        settlement_items_for(organisations=orgs)
        .filter(delivery_start__gte=start)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    out = [
        {"unit": r["currency"], "total": r["total"] or Decimal("0"), "text": fmt.amount(r["total"], r["currency"])}
        for r in rows
    ]
    return sorted(
        out, key=lambda r: (not fmt.amount(0, r["unit"]).endswith(r["unit"]) or len(r["unit"]) != 3, r["unit"])
    )


def needs_action(user, orgs, *, premises, now: datetime) -> list[dict]:
    """What the consumer must do: the identity check (KYC), consents about to expire, meters not validated (why)."""
    items: list[dict] = []
    case = VerificationCase.objects.filter(organisation__in=orgs).order_by("-pk").first()
    if case is None or case.status == VerificationCase.Status.DRAFT:
        items.append(
            {
                "kind": "kyc",
                "text": "Upload an identity document so you can be paid.",
                "url": "portal:onboarding-step",
                "arg": "kyc",
            }
        )
    elif case.status in (VerificationCase.Status.REJECTED, VerificationCase.Status.EXPIRED):
        items.append(
            {
                "kind": "kyc",
                "text": f"Your identity check is {case.get_status_display().lower()}: upload a new document.",
                "url": "portal:onboarding-step",
                "arg": "kyc",
            }
        )
    soon = now + timedelta(days=CONSENT_WARNING_DAYS)
    for c in Consent.objects.filter(
        premise__in=premises, status=Consent.Status.ACTIVE, expires_at__lte=soon
    ).select_related("premise", "aggregator"):
        items.append(
            {
                "kind": "consent",
                "text": f"Your consent to {c.aggregator.name} for {c.premise.name} expires on {fmt.local(c.expires_at, c.premise.timezone)}.",
                "url": "portal:consents",
                "arg": None,
            }
        )
    for row in onboarding_meters(premises):
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


def consumer_home(*, user, currency: str, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    orgs = policies.organisations(user, role=Membership.Role.CONSUMER)
    premises = list(premises_visible_to(user).select_related("grid_zone", "aggregator"))
    tz_name = premises[0].timezone if premises else "UTC"
    return {
        "upcoming": upcoming_events(user, now=now),
        "month": month_earnings(orgs, now=now, tz_name=tz_name),
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
