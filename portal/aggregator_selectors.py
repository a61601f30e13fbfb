"""Read models of the aggregator's pages: the fleet (search, filters, sort, server-side paging), the premises
waiting to be enrolled, the portfolio's capacity per hour, orders and awards with member names, performance per
event and the money. Every read is set-based: the number of queries does not grow with the fleet."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Sum
from django.utils import timezone

from accounts import policies
from accounts.models import Device, Enrolment, Membership, Organisation, Premise
from accounts.selectors import consents_active, grid_zones, premises_visible_to
from activation.selectors import portfolio_response, reservations_visible_to
from assessment.models import AvailabilityDeclaration, MeterStatus
from assessment.selectors import coming_day
from assessment.selectors.capacity_sets import capacity_by_premise_hour
from assessment.selectors.metering import SETTLEMENT_METER_KINDS
from flexplatform import snapshots
from market.models import Award, FlexibilityOffer, MarketOrder, OrderMember
from settlement.models import SettlementItem

PAGE_SIZE = 25
SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "zone": ("grid_zone__code", "name", "id"),
    "segment": ("segment", "name", "id"),
    "owner": ("organisation__name", "name", "id"),
    "newest": ("-created_at", "-id"),
}
OPEN_ORDER_STATUSES = (MarketOrder.Status.OPEN,)
MEMBERS_SHOWN = 10  # per order on the dashboard; the rest as "and N more"


@dataclass(frozen=True)
class FleetFilter:
    """What the fleet list is narrowed and sorted by (``portal.forms_aggregator.FleetFilterForm``)."""

    q: str = ""
    zone: int | None = None
    segment: str = ""
    enrolled: str = ""  # "yes" | "no" | ""
    validated: str = ""  # "yes" | "no" | ""
    device_kind: str = ""
    available: str = ""  # "yes" | "no" | ""
    sort: str = "name"


def aggregator_of(user) -> Organisation | None:
    return policies.acting_organisation(user, Membership.Role.AGGREGATOR)


def fleet_queryset(*, user, aggregator: Organisation, f: FleetFilter = FleetFilter()):  # noqa: B008 - frozen
    """The premises whose consent to the aggregator is in force, annotated with enrolment, meter validation and
    availability, narrowed by ``f``."""
    now = timezone.now()
    qs = premises_visible_to(user).annotate(
        enrolled=Exists(
            Enrolment.objects.filter(premise=OuterRef("pk"), aggregator=aggregator, status=Enrolment.Status.ACTIVE)
        ),
        validated=Exists(
            MeterStatus.objects.filter(
                meter__premise=OuterRef("pk"), validated=True, meter__kind__in=SETTLEMENT_METER_KINDS
            )
        ),
        available=Exists(
            AvailabilityDeclaration.objects.filter(
                premise=OuterRef("pk"), valid_from__lte=now, valid_until__gt=now, available_kw__gt=0
            )
        ),
    )
    if f.q:
        qs = qs.filter(Q(name__icontains=f.q) | Q(organisation__name__icontains=f.q) | Q(address__icontains=f.q))
    if f.zone:
        qs = qs.filter(grid_zone_id=f.zone)
    if f.segment:
        qs = qs.filter(segment=f.segment)
    for flag in ("enrolled", "validated", "available"):
        value = getattr(f, flag)
        if value in ("yes", "no"):
            qs = qs.filter(**{flag: value == "yes"})
    if f.device_kind:
        qs = qs.filter(Exists(Device.objects.filter(premise=OuterRef("pk"), kind=f.device_kind)))
    return qs.order_by(*SORTS.get(f.sort, SORTS["name"]))


def fleet_page(*, user, aggregator: Organisation, f: FleetFilter, page: int | str | None) -> dict:
    """One page of the fleet with each premise's device kinds and accredited kW per hour of the coming day.

    Paged on the ids alone (the filters and the sort, no joins nor flags for the rows not shown), then the page's
    premises read with their owner, zone and flags: the database sorts thousands of narrow rows, not wide ones."""
    qs = fleet_queryset(user=user, aggregator=aggregator, f=f)
    paginator = Paginator(qs.values_list("pk", flat=True), PAGE_SIZE)
    page_obj = paginator.get_page(page)
    ids = list(page_obj.object_list)
    shown = {p.pk: p for p in qs.filter(pk__in=ids)} if ids else {}
    premises = page_obj.object_list = [shown[pk] for pk in ids]
    kinds: dict[int, list[str]] = {}
    labels = dict(Device.Kind.choices)
    for pid, kind in (
        Device.objects.filter(premise__in=premises).order_by("premise_id", "kind").values_list("premise_id", "kind")
    ):
        row = kinds.setdefault(pid, [])
        if labels.get(kind, kind) not in row:
            row.append(labels.get(kind, kind))
    day = coming_day(premises=premises[:1]) if premises else timezone.localdate()
    capacity = capacity_by_premise_hour(premises=premises, day=day)
    rows = [
        {
            "premise": p,
            "device_kinds": kinds.get(p.pk, []),
            "peak_kw": max(capacity.get(p.pk, [Decimal("0")])),
        }
        for p in premises
    ]
    return {"page": page_obj, "rows": rows, "count": paginator.count, "capacity_day": day}


def enrolable_page(*, user, aggregator: Organisation, q: str = "", page=None) -> dict:
    """Premises consented to the aggregator and not enrolled with it yet, a page at a time."""
    qs = fleet_queryset(user=user, aggregator=aggregator, f=FleetFilter(q=q, enrolled="no"))
    page_obj = Paginator(qs, PAGE_SIZE).get_page(page)
    consents = {
        c.premise_id: c
        for c in consents_active()
        .filter(aggregator=aggregator, premise__in=list(page_obj.object_list))
        .select_related("accepted_terms__terms")
    }
    return {"page": page_obj, "rows": [{"premise": p, "consent": consents.get(p.pk)} for p in page_obj.object_list]}


#: The portfolio's accredited kW per hour is read over every enrolled premise (~0.3 s at 10,000): kept per process
#: for ``PORTFOLIO_KEPT_SECONDS`` and recomputed at once when the parties change (an enrolment, a consent, a
#: premise: the ``parties`` token of ``flexplatform.snapshots``); assessments change in the nightly and window
#: sweeps, within that time. The dashboard says when the figures were computed.
_capacity_copies = snapshots.Snapshots(ttl_seconds=settings.PORTFOLIO_KEPT_SECONDS, max_copies=200)


def capacity_copies_clear() -> None:
    """Forget this process's kept capacity per hour (tests start from nothing)."""
    _capacity_copies.clear()


def portfolio_summary(*, user, aggregator: Organisation, day=None) -> dict:
    """The cards and the capacity per hour of the whole enrolled portfolio (constant queries), for ``day`` (by
    default the coming day in the timezone of the first enrolled premise)."""
    enrolled = Premise.objects.filter(
        Exists(Enrolment.objects.filter(premise=OuterRef("pk"), aggregator=aggregator, status=Enrolment.Status.ACTIVE))
    )
    counts = premises_visible_to(user).aggregate(
        consented=Count("pk"),
        enrolled=Count(
            "pk",
            filter=Q(
                Exists(
                    Enrolment.objects.filter(
                        premise=OuterRef("pk"), aggregator=aggregator, status=Enrolment.Status.ACTIVE
                    )
                )
            ),
        ),
    )
    if day is None:
        first = enrolled.order_by("pk").first()
        day = coming_day(premises=[first]) if first else timezone.localdate()
    from assessment.selectors import portfolio_capacity_by_hour

    (hours, computed_at) = _capacity_copies.get(
        [
            snapshots.Request(
                ("capacity-by-hour", aggregator.pk, day),
                (snapshots.PARTIES,),
                lambda: ((portfolio_capacity_by_hour(premises=enrolled, day=day), timezone.now()), None),
            )
        ]
    )[0]
    return {
        "capacity_computed_at": computed_at,
        "kept_seconds": int(_capacity_copies.ttl),
        "consented": counts["consented"],
        "enrolled": counts["enrolled"],
        "capacity_day": day,
        "capacity_by_hour": [{"hour": h, "kw": kw} for h, kw in enumerate(hours)],
        "capacity_total_kw": sum(hours, Decimal("0")),
    }


def offers_with_state(*, aggregator: Organisation, limit: int = 20) -> list[dict]:
    """The aggregator's latest offers; an open offer whose window has passed reads "Expired"."""
    now = timezone.now()
    out = []
    for o in FlexibilityOffer.objects.filter(seller=aggregator).select_related("zone", "premise")[:limit]:
        expired = o.status == FlexibilityOffer.Status.OPEN and o.window_end <= now
        out.append({"offer": o, "status": "Expired" if expired else o.get_status_display()})
    return out


def orders_with_members(*, aggregator: Organisation, open_only: bool = False, limit: int = 20) -> list[dict]:
    """The aggregator's portfolio orders with each member's premise name and kW; an open order whose delivery
    has started reads "Expired" (the gate passed)."""
    now = timezone.now()
    qs = (
        MarketOrder.objects.filter(organisation=aggregator)
        .select_related("zone")
        .annotate(n_members=Count("members"))
        .prefetch_related(
            Prefetch(
                "members",
                queryset=OrderMember.objects.select_related("premise").only("order_id", "kw", "premise__name")[
                    :MEMBERS_SHOWN
                ],
                to_attr="members_shown",
            )
        )
        .order_by("-created_at", "-id")
    )
    if open_only:
        qs = qs.filter(status__in=OPEN_ORDER_STATUSES, delivery_end__gt=now)
    out = []
    for o in qs[:limit]:
        expired = o.status == MarketOrder.Status.OPEN and o.delivery_end <= now
        more = o.n_members - len(o.members_shown)
        out.append({"order": o, "status": "Expired" if expired else o.get_status_display(), "more": more})
    return out


def awards_per_member(*, aggregator: Organisation, page=None) -> dict:
    qs = Award.objects.filter(seller=aggregator).select_related("premise").order_by("-window_start", "-id")
    totals = qs.aggregate(kw=Sum("kw"), n=Count("pk"))
    paginator = Paginator(qs, PAGE_SIZE)
    paginator.count = totals["n"]  # known from the totals: no second COUNT
    page_obj = paginator.get_page(page)
    return {"page": page_obj, "total_kw": totals["kw"] or Decimal("0"), "total": totals["n"]}


def money(*, aggregator: Organisation) -> list[dict]:
    """Fees earned, member payouts, penalties and the rest, per kind and currency: items paid to the aggregator
    and items paid to its members for premises enrolled with it (one grouped query)."""
    K = SettlementItem.Kind
    rows = (
        SettlementItem.objects.filter(Q(payee=aggregator) | Q(premise__aggregator=aggregator))
        .values("kind", "currency")
        .annotate(amount=Sum("amount"), n=Count("pk"), own=Count("pk", filter=Q(payee=aggregator)))
        .order_by("kind", "currency")
    )
    labels = dict(K.choices)
    headings = {
        K.AGGREGATOR_FEE: "Fees earned",
        K.MEMBER_SHARE: "Member payouts",
        K.PENALTY: "Penalties",
    }
    return [
        {
            "label": headings.get(r["kind"], labels.get(r["kind"], r["kind"])),
            "kind": r["kind"],
            "currency": r["currency"],
            "amount": r["amount"],
            "items": r["n"],
            "to_members": r["n"] - r["own"],
        }
        for r in rows
    ]


def performance_per_event(*, aggregator: Organisation, limit: int = 20) -> list[dict]:
    return portfolio_response(aggregator=aggregator)[:limit]


def zones_for_filter() -> list:
    return list(grid_zones())


def enrolment_terms(*, aggregator: Organisation) -> dict:
    """The commercial terms the aggregator publishes (ADR 0024; each consent records the version its owner
    accepted, shown per row): the version in force, or None when it has published none."""
    from accounts.terms import terms_current

    return {"current": terms_current(aggregator)}


def auctions_open() -> list:
    from market.models import Auction

    return Auction.objects.filter(status=Auction.Status.OPEN, gate_closure__gt=timezone.now()).select_related("zone")


def members_matching(*, user, aggregator: Organisation, f: FleetFilter):
    """The enrolled premises matching ``f`` (the portfolio builder's "by filter")."""
    return fleet_queryset(user=user, aggregator=aggregator, f=FleetFilter(**{**f.__dict__, "enrolled": "yes"}))


def members_filter(f: FleetFilter) -> FleetFilter:
    return FleetFilter(**{**f.__dict__, "enrolled": "yes"})


def matching_capacity(*, members) -> dict:
    """The accredited kW per hour of the coming day summed over ``members`` (a queryset; constant queries)."""
    from assessment.selectors import portfolio_capacity_by_hour

    first = members.first()
    day = coming_day(premises=[first]) if first else timezone.localdate()
    hours = portfolio_capacity_by_hour(premises=members, day=day)
    return {
        "capacity_day": day,
        "capacity_by_hour": [{"hour": h, "kw": kw} for h, kw in enumerate(hours)],
        "capacity_total_kw": sum(hours, Decimal("0")),
    }


def reservations_recent(*, user, limit: int = 50) -> list:
    """The portfolio's capacity and ancillary reservations, newest first (one query with premise and buyer)."""
    return list(reservations_visible_to(user).select_related("premise", "buyer").order_by("-window_start")[:limit])
