"""OpenADR 3 events as the business logic sends them: every interval and payload kept, the platform acting on the
ones it can, and who receives them.

An event body (OpenADR 3.0.1 ``event``, validated against the spec by the VTN) is kept whole and returned as it
was given. What the platform does with it:

* **Dispatched** (a platform ``DREvent``, with the operator-event rules: notice, caps, enrolment, capacity) when
  it asks one enrolled premise to reduce load: a ``DISPATCH_SETPOINT_RELATIVE`` payload (kW relative to the
  baseline, negative = reduce; the largest reduction over its intervals is the event's target) and targets that
  name exactly one premise: ``RESOURCE_NAME`` ``premise-<id>``, or the name of a VEN resource linked to a premise
  (its ``PREMISE_ID`` attribute), or a ``VEN_NAME`` whose VEN has one premise. The window is the union of the
  intervals (each interval without its own intervalPeriod follows the event's, the k-th starting k durations
  after its start; weeks and calendar months per ISO 8601).
* **Kept and delivered** (an ``OadrEvent``, id ``vtn-<pk>``) otherwise: prices, ``IMPORT_CAPACITY_LIMIT``,
  ``SIMPLE`` levels and private payload types, ``GROUP`` targets, zero (``PT0S``: "instantaneous or infinity")
  durations. VENs act on them themselves; the VTN delivers them and takes their reports.

Who receives an event (the enrolment rule, documented in ADR 0021): a VEN is enrolled in a program when the
program has no targets (open to every VEN), or one of the program's targets matches the VEN (``VEN_NAME`` its
name, any other type a value of the VEN's or its resources' targets or attributes, ``RESOURCE_NAME`` one of its
resources, ``GROUP`` also the grid zone of one of its premises). An event with no targets goes to every VEN
enrolled in its program; an event with targets to the enrolled VENs they match by the same rule. A dispatched
event also reaches the VEN of the premise it dispatches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from accounts.models import Premise

from . import openadr_spec
from .models import OadrEvent, Program, Ven, VenResource
from .openadr_objects import oadr_event_object
from .services.openadr_notifications import notify

DISPATCHED_PAYLOAD = "DISPATCH_SETPOINT_RELATIVE"


@dataclass(frozen=True)
class Dispatch:
    """What the platform dispatches for an event: one premise, a reduction kW, a window."""

    premise: Premise
    target_kw: Decimal
    start: datetime
    end: datetime


def interval_windows(spec: dict) -> list[tuple[datetime, datetime] | None]:
    """Each interval's [start, end), or None where it has no start or a zero (open) duration."""
    period = spec.get("intervalPeriod") or {}
    out: list[tuple[datetime, datetime] | None] = []
    for k, interval in enumerate(spec.get("intervals") or []):
        own = interval.get("intervalPeriod") or {}
        duration = own.get("duration") or period.get("duration") or "PT0S"
        if own.get("start"):
            start = openadr_spec.parse_datetime(own["start"])
        elif period.get("start"):
            start = openadr_spec.parse_datetime(period["start"])
            for _ in range(k):
                start = openadr_spec.add_duration(start, duration)
        else:
            out.append(None)
            continue
        end = openadr_spec.add_duration(start, duration)
        out.append((start, end) if end > start else None)
    return out


def _reduction_kw(spec: dict) -> Decimal | None:
    found = []
    for i, interval in enumerate(spec.get("intervals") or []):
        for j, payload in enumerate(interval.get("payloads") or []):
            if payload.get("type") != DISPATCHED_PAYLOAD:
                continue
            for value in payload.get("values") or []:
                try:
                    if isinstance(value, bool):
                        raise InvalidOperation
                    number = Decimal(str(value))
                except InvalidOperation:
                    raise openadr_spec.SpecError(
                        f"intervals/{i}/payloads/{j}/values", f"{DISPATCHED_PAYLOAD} values are kW numbers"
                    ) from None
                if not number.is_finite():
                    raise openadr_spec.SpecError(f"intervals/{i}/payloads/{j}/values", "not a finite number")
                found.append(-number)
    return max(found) if found else None


def _named_premises(targets, premises) -> list[Premise]:
    """Premises the targets name: ``premise-<id>`` (within ``premises``, the caller's area: 400 otherwise), VEN
    resource names and VEN names linked to premises."""
    ids: set[int] = set()
    for value in openadr_spec.values_of(targets, "RESOURCE_NAME"):
        name = str(value)
        if name.startswith("premise-"):
            number = name.removeprefix("premise-")
            found = premises.filter(pk=int(number)).first() if number.isdigit() and len(number) < 19 else None
            if found is None:
                raise openadr_spec.SpecError("targets", f"no premise {name} in your service area")
            ids.add(found.pk)
        else:
            ids |= set(
                VenResource.objects.filter(resource_name=name, premise__isnull=False).values_list(
                    "premise_id", flat=True
                )
            )
    names = [str(v) for v in openadr_spec.values_of(targets, "VEN_NAME")]
    if names:
        ids |= set(
            VenResource.objects.filter(ven__ven_name__in=names, premise__isnull=False).values_list(
                "premise_id", flat=True
            )
        )
    return list(premises.filter(pk__in=ids))


def event_dispatch_plan(spec: dict, *, premises) -> Dispatch | None:
    """The dispatch the platform makes for an event body, or None when it only keeps and delivers it."""
    kw = _reduction_kw(spec)
    if kw is None:
        return None
    try:
        windows = interval_windows(spec)
    except (ValueError, OverflowError) as exc:
        raise openadr_spec.SpecError("intervalPeriod", f"cannot place the intervals in time: {exc}") from None
    named = _named_premises(spec.get("targets"), premises)
    if len(named) != 1 or not windows or None in windows:
        return None
    if kw <= 0:
        raise openadr_spec.SpecError("intervals", f"{DISPATCHED_PAYLOAD} must be negative (a load reduction)")
    start = min(w[0] for w in windows if w)
    end = max(w[1] for w in windows if w)
    return Dispatch(premise=named[0], target_kw=kw, start=start, end=end)


# --- who receives what ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenProfile:
    """A VEN as targets see it: its name, resource names, and the values of its and its resources' targets and
    attributes, by type (GROUP also the grid zones of its premises)."""

    name: str
    values: dict[str, set[str]]
    premise_ids: frozenset[int]

    def matches(self, targets) -> bool:
        return any(
            {str(v) for v in t.get("values") or []} & self.values.get(t.get("type"), set())
            for t in targets or []
            if isinstance(t, dict)
        )


def ven_profile(ven: Ven) -> VenProfile:
    values: dict[str, set[str]] = {"VEN_NAME": {ven.ven_name}, "RESOURCE_NAME": set()}
    premise_ids = set()
    for maps in (ven.targets, ven.attributes):
        for m in maps or []:
            values.setdefault(m.get("type"), set()).update(str(v) for v in m.get("values") or [])
    for r in ven.resources.select_related("premise__grid_zone"):
        values["RESOURCE_NAME"].add(r.resource_name)
        for maps in (r.targets, r.attributes):
            for m in maps or []:
                values.setdefault(m.get("type"), set()).update(str(v) for v in m.get("values") or [])
        if r.premise is not None:
            premise_ids.add(r.premise_id)
            values["RESOURCE_NAME"].add(f"premise-{r.premise_id}")
            values.setdefault("GROUP", set()).add(r.premise.grid_zone.code)
    return VenProfile(name=ven.ven_name, values=values, premise_ids=frozenset(premise_ids))


def ven_enrolled(profile: VenProfile, program: Program) -> bool:
    """The enrolment rule: a program without targets is open to every VEN; else one of its targets matches."""
    targets = (program.oadr_spec or {}).get("targets")
    return not targets or profile.matches(targets)


def event_reaches(profile: VenProfile, program: Program, spec: dict) -> bool:
    """A kept (not dispatched) event reaches the VENs enrolled in its program that its targets match (all of
    them when it has none)."""
    if not ven_enrolled(profile, program):
        return False
    return not spec.get("targets") or profile.matches(spec["targets"])


def oadr_events_for_ven(ven: Ven, *, deleted: bool = False) -> list[OadrEvent]:
    """The kept events a VEN receives, in creation order (with the deleted ones when asked: it may report)."""
    profile = ven_profile(ven)
    rows = OadrEvent.objects.select_related("program").order_by("created_at", "id")
    if not deleted:
        rows = rows.filter(deleted_at__isnull=True)
    return [e for e in rows if event_reaches(profile, e.program, e.spec)]


def readers_of(event: OadrEvent) -> set[int]:
    """The VENs an event reaches (for subscription notifications)."""
    return {
        v.pk
        for v in Ven.objects.prefetch_related("resources")
        if event_reaches(ven_profile(v), event.program, event.spec)
    }


# --- writes ---------------------------------------------------------------------------------------------------


def _notify(event: OadrEvent, operation: str, obj: dict, now) -> None:
    notify(
        object_type="EVENT",
        operation=operation,
        obj=obj,
        program_id=event.program_id,
        readers=readers_of(event),
        now=now,
    )


def oadr_event_create(*, program: Program, spec: dict, user=None, now: datetime | None = None) -> OadrEvent:
    """Keep an event the platform does not dispatch; its subscribers hear of it."""
    with transaction.atomic():
        event = OadrEvent.objects.create(program=program, spec=spec, created_by=user)
        _notify(event, "CREATE", oadr_event_object(event), now)
    return event


def oadr_event_replace(*, event: OadrEvent, program: Program, spec: dict, now: datetime | None = None) -> OadrEvent:
    """``PUT /events/{id}`` of a kept event: the new body replaces the old one."""
    with transaction.atomic():
        event = OadrEvent.objects.select_for_update().get(pk=event.pk, deleted_at__isnull=True)
        event.program, event.spec = program, spec
        event.save(update_fields=["program", "spec", "modified_at"])
        _notify(event, "UPDATE", oadr_event_object(event), now)
    return event


def oadr_event_remove(*, event: OadrEvent, now: datetime | None = None) -> dict:
    """``DELETE /events/{id}`` of a kept event: no longer listed; kept for its reports."""
    now = now or timezone.now()
    with transaction.atomic():
        event = OadrEvent.objects.select_for_update().get(pk=event.pk, deleted_at__isnull=True)
        out = oadr_event_object(event)
        event.deleted_at = now
        event.save(update_fields=["deleted_at", "modified_at"])
        _notify(event, "DELETE", out, now)
    return out
