"""Read models of the operator console's market pages: requests and auctions in the zones the user serves, a
clearing run with its explanation (``market.explain``) and the names behind every id, the live dispatch chart,
and what an emergency stop would halt."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from accounts import policies
from activation import selectors as activation_selectors
from activation.models import Cascade, DREvent, OutboxMessage
from activation.services.emergency_stop import emergency_stop_active
from market.explain import explain_auction_run, explain_request_run
from market.models import Auction, Award, FlexibilityOffer, FlexibilityRequest, MarketOrder
from market.selectors import clearing_runs_visible_to


def _in_scope(qs, user, field: str = "zone_id"):
    zone_ids = policies.zone_scope(user)
    return qs if zone_ids is None else qs.filter(**{f"{field}__in": zone_ids})


def operator_requests(*, user, limit: int = 50) -> list[FlexibilityRequest]:
    qs = FlexibilityRequest.objects.select_related("zone", "clearing_run").order_by("-created_at", "-pk")
    return list(_in_scope(qs, user)[:limit])


def operator_auctions(*, user, limit: int = 50) -> list[Auction]:
    qs = (
        Auction.objects.select_related("zone", "clearing_run")
        .annotate(n_orders=Count("orders"))
        .order_by("-delivery_start", "-pk")
    )
    return list(_in_scope(qs, user)[:limit])


def clearing_run_page(*, user, pk: int) -> dict | None:
    """One clearing run the user may read, explained, with the names of the offers/orders and the awards; None
    when the user may not read it (the page answers 404, as for a missing run)."""
    run = clearing_runs_visible_to(user).select_related("request__zone", "auction__zone").filter(pk=pk).first()
    if run is None:
        return None
    if run.request_id:
        zone = run.request.zone
        explanation = explain_request_run(inputs=run.inputs, outputs=run.outputs, zone_code=zone.code)
        ids = [r.offer_id for r in explanation.merit_order]
        names = {
            o.pk: f"{o.premise.name} ({o.seller.name})"
            for o in FlexibilityOffer.objects.filter(pk__in=ids).select_related("premise", "seller")
        }
    else:
        zone = run.auction.zone
        explanation = explain_auction_run(inputs=run.inputs, outputs=run.outputs)
        ids = [r.offer_id for r in explanation.merit_order]
        names = {
            o.pk: o.organisation.name for o in MarketOrder.objects.filter(pk__in=ids).select_related("organisation")
        }
    awards = list(
        Award.objects.filter(clearing_run=run).select_related("premise", "seller").order_by("window_start", "pk")[:500]
    )
    return {
        "run": run,
        "zone": zone,
        "explanation": explanation,
        "rows": [
            {"row": r, "name": names.get(r.offer_id, f"#{r.offer_id} (no longer listed)")}
            for r in explanation.merit_order
        ],
        "awards": awards,
    }


def dispatch_chart(*, user) -> dict:
    """Target vs measured kW of the active events, per zone and per event, now (the console polls this)."""
    events = [e for e in activation_selectors.events_open_for(user, limit=200) if e.status == DREvent.Status.ACTIVE]
    zones: dict[str, dict[str, Decimal]] = {}
    per_event = []
    for row in activation_selectors.event_monitor_rows(events=events):
        e = row["event"]
        measured = row["measured_kw"]
        z = zones.setdefault(
            e.zone.code if e.zone_id else "—", {"target_kw": Decimal("0"), "measured_kw": Decimal("0")}
        )
        z["target_kw"] += e.target_kw
        z["measured_kw"] += measured or Decimal("0")
        per_event.append(
            {
                "event": e.pk,
                "premise": e.premise.name,
                "target_kw": str(e.target_kw),
                "measured_kw": None if measured is None else str(measured),
            }
        )
    return {
        "at": timezone.now().isoformat(timespec="seconds"),
        "zones": {
            k: {"target_kw": str(v["target_kw"]), "measured_kw": str(v["measured_kw"])}
            for k, v in sorted(zones.items())
        },
        "events": per_event,
    }


def emergency_stop_scope() -> dict:
    """What engaging the emergency stop halts right now, counted for the confirmation page."""
    now = timezone.now()
    waiting = [DREvent.Status.SCHEDULED, DREvent.Status.NOTIFIED]
    events = DREvent.objects.filter(status__in=[*waiting, DREvent.Status.ACTIVE], end__gt=now).aggregate(
        active=Count("pk", filter=Q(status=DREvent.Status.ACTIVE)),
        scheduled=Count("pk", filter=Q(status__in=waiting)),
    )
    return {
        "active_events": events["active"],
        "scheduled_events": events["scheduled"],
        "queued_commands": OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).count(),
        "running_cascades": Cascade.objects.filter(status=Cascade.Status.RUNNING).count(),
        "stop": emergency_stop_active(),
    }
