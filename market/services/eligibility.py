"""What the order path knows about sellers, buyers, zones and resources, kept per process between changes.

Every order asks who may trade, which premises a seller may offer, what a premise's accredited capacity is
made of and which zones lie below which. The answers come from their one selector each
(``accounts.selectors.organisation_trading_status``, ``premises_represented_by``, ``zone_index``,
``assessment.selectors.capacity_profile``) and are kept by ``flexplatform.snapshots`` under version tokens:

* ``parties``: organisations, memberships, verification cases, consents, enrolments, premises and zones. A
  change to any of them (human-speed: a KYC decision, a consent granted or revoked) renews every party answer.
* ``premise:<id>``: one premise's capacity inputs: its assessments, availability declarations, meter status,
  program enrollments (suspension, derate) and verified events (reliability), which activation registers
  through ``market.hooks.register_premise_source``.

The receivers below renew the tokens on every save and delete of those models; answers that run out by
themselves (a verification's or consent's end, an assessment window's end) are kept only until then. What
must be exact at the instant of the order, the kW already committed, is read under the premise's row lock by
``market.services.capacity``: a cached answer can never let a resource be sold twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db.models import Min, Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from accounts.selectors import TradingStatus, ZoneIndex
from flexplatform import snapshots

from .. import hooks
from ..parameters import PARAMETERS_VERSION, market_parameters_request

PARTIES = snapshots.PARTIES
#: a copy is kept at most this long, whatever else happens (seconds)
TTL_SECONDS = 300.0
#: premise capacity profiles cover windows from this far back (orders are for now or later)
PROFILE_LOOKBACK = timedelta(hours=1)

_snapshots = snapshots.Snapshots(ttl_seconds=TTL_SECONDS)


def premise_token(premise_id: int) -> str:
    return f"premise:{premise_id}"


def premises_changed(*, premise_ids) -> None:
    """The capacity inputs of these premises changed in a write that sends no ``post_save`` (a bulk insert by a
    layer above, e.g. activation's enrollments of awarded resources): their snapshots are renewed at commit."""
    snapshots.invalidate(*(premise_token(pid) for pid in premise_ids))


@dataclass(frozen=True)
class OrganisationFacts:
    """A seller's trading gate and the premises it may offer (meter validation aside: that is a capacity
    input, ``CapacityProfile.meter_validated``); a grid operator's service zones with all below them."""

    trading: TradingStatus
    offerable: frozenset[int]
    served_zone_ids: frozenset[int]


def _seconds_until(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max((moment - now).total_seconds(), 0.0)


def _load_zones() -> tuple[ZoneIndex, None]:
    from accounts.selectors import zone_index

    return zone_index(), None


def _load_organisation(organisation) -> tuple[OrganisationFacts, float | None]:
    from accounts.models import Consent, Enrolment, Organisation, Premise, VerificationCase
    from accounts.selectors import organisation_trading_status, premises_represented_by, zone_index

    now = timezone.now()
    trading = organisation_trading_status(organisation, now=now)
    represented = list(premises_represented_by(organisation, now=now).values_list("pk", "organisation_id"))
    offerable = frozenset(pk for pk, _ in represented)
    served = frozenset()
    if organisation.kind == Organisation.Kind.GRID_OPERATOR:
        zones = zone_index()
        served = frozenset(zones.with_descendant_ids(organisation.service_zones.values_list("pk", flat=True)))
    # The answer changes by itself when a verification, consent or enrolment in it starts or runs out: kept
    # until the first such moment. In it: the verifications of the organisation and of the owners of the
    # premises it offers; the active consents and enrolments held by it, or on its own premises or on those it
    # offers. Each read filters its own table's indexed columns, one branch at a time (an OR across a join, as
    # before, read every active consent, enrolment and verification of the platform once per seller: a day's
    # consumers cost N x N in the database; ADR 0048).
    owners = sorted({organisation.pk} | {owner for _, owner in represented})
    scope = sorted(offerable | set(Premise.objects.filter(organisation=organisation).values_list("pk", flat=True)))
    branches = [Q(aggregator=organisation)] + ([Q(premise_id__in=scope)] if scope else [])
    bounds = {
        Consent: (Consent.Status.ACTIVE, ("expires_at", "granted_at")),
        Enrolment: (Enrolment.Status.ACTIVE, ("ends_at", "starts_at")),
    }
    ends = [
        VerificationCase.objects.filter(
            organisation_id__in=owners, status=VerificationCase.Status.VERIFIED, verified_until__gt=now
        ).aggregate(m=Min("verified_until"))["m"]
    ]
    for model, (active, fields) in bounds.items():
        for branch in branches:
            found = model.objects.filter(branch, status=active).aggregate(
                **{f: Min(f, filter=Q(**{f"{f}__gt": now})) for f in fields}
            )
            ends += found.values()
    if organisation.licence_expires_on is not None:  # the licence rule fails from the next UTC day on
        ends.append(datetime.combine(organisation.licence_expires_on + timedelta(days=1), time.min, tzinfo=UTC))
    soonest = min((e for e in ends if e is not None and e > now), default=None)
    return OrganisationFacts(trading, offerable, served), _seconds_until(soonest, now)


def _load_profile(premise_id: int):
    from assessment.selectors import capacity_profile

    now = timezone.now()
    profile = capacity_profile(premise=premise_id, since=now - PROFILE_LOOKBACK)
    # Kept while the window it starts from is recent enough, and no longer than its earliest row covers.
    life = PROFILE_LOOKBACK.total_seconds() / 2
    expiry = _seconds_until(profile.expires_at(), now)
    return profile, life if expiry is None else min(life, expiry)


def _load_profiles(keys: list) -> list:
    """:func:`_load_profile` for the premises of many keys (``("premise", id)``) at once: a portfolio order's
    members whose kept profiles are out of date, read in six queries instead of up to six each."""
    from assessment.selectors import capacity_profiles

    if len(keys) == 1:  # one premise: the single read, which skips what an unassessed premise needs not
        return [_load_profile(keys[0][1])]
    now = timezone.now()
    profiles = capacity_profiles(premise_ids=[pid for _, pid in keys], since=now - PROFILE_LOOKBACK)
    life = PROFILE_LOOKBACK.total_seconds() / 2
    out = []
    for _, pid in keys:
        expiry = _seconds_until(profiles[pid].expires_at(), now)
        out.append((profiles[pid], life if expiry is None else min(life, expiry)))
    return out


@dataclass(frozen=True)
class OrderFacts:
    zones: ZoneIndex
    organisation: OrganisationFacts
    #: premise id -> assessment.selectors.CapacityProfile (for windows from ``since`` on)
    profiles: dict
    #: the governed market parameters (``market.parameters.market_parameters``)
    parameters: dict


def _read_profiles(premise_ids: list[int], since: datetime) -> dict:
    """The premises' capacity profiles from ``since`` on, read now and kept nowhere: one premise's by the single
    read (what an unassessed premise needs not, it skips), a portfolio's together (six queries for all)."""
    from assessment.selectors import capacity_profile, capacity_profiles

    if len(premise_ids) == 1:
        return {premise_ids[0]: capacity_profile(premise=premise_ids[0], since=since)}
    return capacity_profiles(premise_ids=premise_ids, since=since) if premise_ids else {}


def order_facts(*, organisation, premise_ids: list[int], start: datetime | None = None) -> OrderFacts:
    """The governed parameters, zones, the organisation's facts and the named premises' capacity profiles: one
    token round trip when nothing changed since this process last computed them.

    ``start``: the order's delivery start. The kept profiles cover windows from ``PROFILE_LOOKBACK`` before the
    wall clock on; an order for an earlier window (one given a clock in the past: the demo's and the benchmark's
    simulated day) reads its members' profiles from ``start`` on, all at once, and keeps none (before, each
    member's capacity was read again on its own, up to six queries per member: ADR 0048)."""
    live = bool(premise_ids) and start is not None and start < timezone.now() - PROFILE_LOOKBACK
    requests = [
        market_parameters_request(),
        snapshots.Request(("zones",), (PARTIES,), _load_zones),
        snapshots.Request(("organisation", organisation.pk), (PARTIES,), lambda: _load_organisation(organisation)),
    ]
    if not live:
        requests += [
            snapshots.Request(
                ("premise", pid), (premise_token(pid),), lambda pid=pid: _load_profile(pid), load_many=_load_profiles
            )
            for pid in premise_ids
        ]
    parameters, zones, org_facts, *profiles = _snapshots.get(requests)
    return OrderFacts(
        zones=zones,
        organisation=org_facts,
        profiles=_read_profiles(premise_ids, start) if live else dict(zip(premise_ids, profiles, strict=True)),
        parameters=parameters,
    )


def order_tokens(data) -> list[str]:
    """The token names :func:`order_facts` will ask for, from an order's request body (anything malformed is
    left to the validation that follows)."""
    names = [PARAMETERS_VERSION, PARTIES]
    members = data.get("members") if isinstance(data, dict) else None
    if isinstance(members, list):
        for m in members:
            premise = m.get("premise") if isinstance(m, dict) else None
            if isinstance(premise, int) or (isinstance(premise, str) and premise.isdigit()):
                names.append(premise_token(int(premise)))
    return names


def clear() -> None:
    """Forget this process's copies (tests start from nothing)."""
    _snapshots.clear()


# -- what renews the tokens ---------------------------------------------------------------------------------


def _parties_changed(sender, **kwargs) -> None:
    snapshots.invalidate(PARTIES)


def _premise_changed(premise_id_of):
    def receiver(sender, instance, **kwargs) -> None:
        pid = premise_id_of(instance)
        if pid is not None:
            snapshots.invalidate(premise_token(pid))

    return receiver


def _premise_of_meter(meter_id: int) -> int | None:
    from accounts.models import Meter

    return Meter.objects.filter(pk=meter_id).values_list("premise_id", flat=True).first()


def _connect_premise_source(model, premise_id_of) -> None:
    receiver = _premise_changed(premise_id_of)
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"eligibility-premise-save-{model.__name__}")
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"eligibility-premise-del-{model.__name__}")


def connect() -> None:
    """Called once from ``MarketConfig.ready``. The capacity inputs of the layers below are named here; those of
    the layers above (activation's enrollments and verified events) are registered by them through
    ``market.hooks.register_premise_source`` and connected as they arrive."""
    from accounts.models import Consent, Enrolment, GridZone, Membership, Organisation, Premise, VerificationCase
    from assessment.models import AvailabilityDeclaration, FlexibilityAssessment, MeterStatus

    for model in (Organisation, Membership, VerificationCase, Consent, Enrolment, Premise, GridZone):
        post_save.connect(_parties_changed, sender=model, dispatch_uid=f"eligibility-parties-save-{model.__name__}")
        post_delete.connect(_parties_changed, sender=model, dispatch_uid=f"eligibility-parties-del-{model.__name__}")
    m2m_changed.connect(
        _parties_changed, sender=Organisation.service_zones.through, dispatch_uid="eligibility-service-zones"
    )
    from accounts.models import Meter

    premise_sources = {
        Premise: lambda i: i.pk,
        Meter: lambda i: i.premise_id,
        FlexibilityAssessment: lambda i: i.premise_id,
        AvailabilityDeclaration: lambda i: i.premise_id,
        MeterStatus: lambda i: _premise_of_meter(i.meter_id),
    }
    for model, premise_id_of in premise_sources.items():
        _connect_premise_source(model, premise_id_of)
    hooks.on_premise_source(_connect_premise_source)
