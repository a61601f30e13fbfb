"""Read models of the portal's pages that combine several apps, composed from each app's selectors."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q

from accounts import policies
from accounts.device_services import device_capability
from accounts.models import Membership, VerificationCase
from accounts.onboarding import devices_of, meters_of, onboarding_steps_done, premises_of
from accounts.policies import premises_visible_to
from accounts.selectors import grid_zones
from activation import selectors as activation_selectors
from activation.selectors import events_visible_to, reservations_visible_to
from activation.services import emergency_stop_active
from assessment.selectors import consumer_meter_charts, meter_statuses_for, meters_readable_by
from market.selectors import (
    awards_visible_to,
    clearing_runs_public_summary,
    clearing_runs_visible_to,
    expected_earnings,
    offers_for_premises,
    orders_of_premises,
)
from settlement.selectors import (
    anchor_alerts_open,
    anchors_confirmed_count,
    anchors_recent,
    items_visible_to,
    settlement_items_for,
)

ONBOARDING_STEPS = [
    ("account", "Account"),
    ("premise", "Premise"),
    ("meter", "Meter"),
    ("consent", "Consent"),
    ("devices", "Devices"),
    ("kyc", "KYC upload"),
]
#: steps that never block 100 %: a direct seller gives no consent to an aggregator
OPTIONAL_STEPS = {"consent"}
CONSENT_WARNING_DAYS = 30


def consumer_dashboard(*, user, currency: str, premises: list | None = None) -> dict:
    """The consumer's dashboard: a fixed number of queries whatever the number of premises, events, payments or
    orders (lists are the latest 20-50; the meter charts and flexibility are read for all premises at once)."""
    orgs = policies.organisations(user, role=Membership.Role.CONSUMER)
    premises = consumer_premises(user) if premises is None else premises
    market = {
        "my_orders": orders_of_premises(premises=premises, limit=50),
        "my_offers": list(offers_for_premises(premises=premises)[:50]),
        "my_awards": list(awards_visible_to(user).select_related("premise").order_by("-window_start")[:50]),
        "expected_earnings": expected_earnings(premises=premises),
    }
    items = list(settlement_items_for(organisations=orgs).order_by("-delivery_start")[:50])
    return {
        "organisations": orgs,
        "premises": premises,
        "currency": currency,
        "items": items,
        "reservations": list(
            reservations_visible_to(user).select_related("premise", "buyer").order_by("-window_start")[:20]
        ),
        **consumer_meter_charts(premises),
        **market,
    }


def consumer_premises(user) -> list:
    """The consumer's premises for its pages, read once: zone, aggregator, meters (with their validation status),
    the latest identity check of the owner (``kyc_pk``, ``kyc_status``) and whether a consent expires soon."""
    from datetime import timedelta

    from django.db.models import Exists, OuterRef, Prefetch, Subquery
    from django.utils import timezone

    from accounts.models import Consent, Meter

    soon = timezone.now() + timedelta(days=CONSENT_WARNING_DAYS)
    latest_case = VerificationCase.objects.filter(organisation=OuterRef("organisation")).order_by("-pk")
    return list(
        premises_visible_to(user)
        .select_related("grid_zone", "aggregator")
        .prefetch_related(Prefetch("meters", queryset=Meter.objects.select_related("status").order_by("meter_id")))
        .annotate(
            kyc_pk=Subquery(latest_case.values("pk")[:1]),
            kyc_status=Subquery(latest_case.values("status")[:1]),
            consent_expiring=Exists(
                Consent.objects.filter(premise=OuterRef("pk"), status=Consent.Status.ACTIVE, expires_at__lte=soon)
            ),
        )
    )


def aggregator_portfolio(*, user, page=None) -> dict:
    """The aggregator's event response per event and each resource's suspension and reliability (a page of
    resources at a time, read set-based)."""
    from django.core.paginator import Paginator

    orgs = policies.organisations(user, role=Membership.Role.AGGREGATOR)
    rows = activation_selectors.portfolio_response(aggregator=orgs[0])[:50] if orgs else []
    page_obj = Paginator(premises_visible_to(user).order_by("name", "id"), 25).get_page(page)
    premises = list(page_obj.object_list)
    indicators = activation_selectors.resources_reliability([p.pk for p in premises])
    empty = {"events": 0, "suspended": False}
    return {
        "rows": rows,
        "page": page_obj,
        "resources": [{"premise": p, **indicators.get(p.pk, empty)} for p in premises],
    }


def operator_console(*, user) -> dict:
    orgs = policies.organisations(user, role=Membership.Role.GRID_OPERATOR)
    runs = list(
        clearing_runs_visible_to(user).select_related("request__zone", "auction__zone").order_by("-cleared_at")[:50]
    )
    events = list(events_visible_to(user).order_by("-start")[:100])
    delivered = sum((e.verification.delivered_kwh for e in events if hasattr(e, "verification")), Decimal("0"))
    return {
        "organisations": orgs,
        "zones": [z for o in orgs for z in o.service_zones.all()],
        "runs": runs,
        "events": events,
        "delivered_kwh": delivered,
        "anchors": list(anchors_recent(24)),
        "anchor_alerts": anchor_alerts_open(),
    }


def dispatch_live(*, user) -> dict:
    """The dispatch console's live part: the open events' monitor rows, the emergency stop, the latest cascades."""
    events = activation_selectors.events_open_for(user, limit=100)
    return {
        "rows": activation_selectors.event_monitor_rows(events=events),
        "stop": emergency_stop_active(),
        "cascades": activation_selectors.cascades_visible_to(user)[:10],
    }


def public_market_summary() -> dict:
    return {**clearing_runs_public_summary(10), "anchors": anchors_confirmed_count()}


def onboarding_progress(user) -> dict:
    """The onboarding wizard's state: each step done or not (read from the data), the current step, the registered
    meters with their validation and the devices with the kW the platform counts for each."""
    orgs = policies.organisations(user, role=Membership.Role.CONSUMER)
    org = orgs[0] if orgs else None
    premises = list(premises_of(org)) if org else []
    meters, devices = onboarding_meters(premises), onboarding_devices(premises)
    done = onboarding_steps_done(
        organisation=org, premises=premises, meters=[m["meter"] for m in meters], devices=[d["device"] for d in devices]
    )
    steps = [
        {"key": k, "label": label, "done": done[k], "optional": k in OPTIONAL_STEPS} for k, label in ONBOARDING_STEPS
    ]
    required = [s for s in steps if not s["optional"]]
    finished = all(s["done"] for s in required)  # an optional step (consent: selling directly) never blocks
    current = None if finished else next((s["key"] for s in steps if not s["done"]), None)
    case = VerificationCase.objects.filter(organisation=org).order_by("-pk").first() if org else None
    return {
        "organisation": org,
        "premises": premises,
        "meters": meters,
        "devices": devices,
        "steps": steps,
        "current": current,
        "percent": int(100 * sum(s["done"] for s in required) / len(required)),
        "kyc": _kyc_state(case),
    }


def _kyc_state(case) -> dict:
    """The identity check's real state in words: not started, in review, approved or needs action (and why)."""
    if case is None or case.status == VerificationCase.Status.DRAFT:
        return {"state": "not started", "action": True, "text": "Not started: upload an identity document."}
    if case.status == VerificationCase.Status.VERIFIED:
        return {"state": "approved", "action": False, "text": "Approved: you can be paid."}
    if case.status in (VerificationCase.Status.REJECTED, VerificationCase.Status.EXPIRED):
        return {
            "state": "needs action",
            "action": True,
            "text": f"{case.get_status_display()}: upload a new identity document.",
        }
    return {"state": "in review", "action": False, "text": "In review: we are checking your document."}


def onboarding_meters(premises, *, prefetched: bool = False) -> list[dict]:
    """The registered meters with their validation status (validated, or why not yet). ``prefetched``: the
    premises come from :func:`consumer_premises` (meters and statuses loaded: no query)."""
    if prefetched:
        meters = sorted((m for p in premises for m in p.meters.all()), key=lambda m: m.meter_id)
        statuses = {m.pk: m.status for m in meters if _has_status(m)}
    else:
        meters = meters_of(premises)
        statuses = meter_statuses_for(meters)
    out = []
    for m in meters:
        status = statuses.get(m.pk)
        if status is not None and status.validated:
            state = "validated"
        elif status is not None and status.reasons:
            state = "not validated yet: " + " ".join(status.reasons)
        else:
            state = "not validated yet: waiting for meter data (enough clean history is needed before it can sell)"
        out.append({"meter": m, "state": state, "validated": bool(status and status.validated)})
    return out


def _has_status(meter) -> bool:
    try:
        return meter.status is not None
    except ObjectDoesNotExist:
        return False


def onboarding_devices(premises) -> list[dict]:
    """The registered devices with the kW the platform counts for each (capability assessment)."""
    return [{"device": d, "capability": device_capability(d)} for d in devices_of(premises)]


def consumer_meters(user) -> list:
    """The meters a consumer may read, by meter id (the consumption page's picker)."""
    return list(meters_readable_by(user).order_by("meter_id"))


def event_visible(user, pk: int) -> bool:
    return events_visible_to(user).filter(pk=pk).exists()


def premise_visible(user, pk: int):
    """The premise ``pk`` when the user may see it, else None."""
    return premises_visible_to(user).filter(pk=pk).first()


def zones_served(user) -> list:
    """The zones the user may start a cascade or emergency call in (``accounts.policies.zone_scope``)."""
    zone_ids = policies.zone_scope(user)
    zones = grid_zones()
    return list(zones) if zone_ids is None else [z for z in zones if z.pk in zone_ids]


def dispatch_console(*, user, is_admin: bool) -> dict:
    """The operator's dispatch console: the live part plus the pickers and the latest emergency stops."""
    return {
        **dispatch_live(user=user),
        "programs": activation_selectors.programs_all(),
        "premises": premise_choices(user=user),
        "zones": zones_served(user),
        "stops": activation_selectors.emergency_stops_recent(10),
        "is_admin": is_admin,
    }


PREMISE_CHOICES = 20  # the dispatch console's premise picker lists this many matches; a search narrows them


def premise_choices(*, user, q: str = "") -> list:
    """The premises the dispatch console offers to pick from: the first ``PREMISE_CHOICES`` the user may see whose
    name, address, owner or id matches ``q`` (a search, not a list of every premise in the zone)."""
    qs = premises_visible_to(user)
    q = q.strip()
    if q:
        match = Q(name__icontains=q) | Q(address__icontains=q) | Q(organisation__name__icontains=q)
        if q.isdigit():
            match |= Q(pk=int(q))
        qs = qs.filter(match)
    return list(qs.order_by("name", "id")[:PREMISE_CHOICES])


def payment_visible(user, pk: int):
    """The settlement item ``pk`` when the user may see it, else None."""
    return items_visible_to(user).filter(pk=pk).first()


def onboarding_device(*, premises, pk: int) -> dict | None:
    """One of the premises' devices with the kW the platform counts for it (the wizard's device step)."""
    device = devices_of(premises).filter(pk=pk).first()
    return None if device is None else {"device": device, "capability": device_capability(device)}
