"""Read models for activation."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from accounts import policies
from accounts.models import GridZone, Membership, Organisation
from accounts.selectors import (
    operator_zone_ids,
    premises_visible_to,
    user_organisations,
    user_role,
    zone_with_descendant_ids,
)
from accounts.selectors.devices import (
    ControllableDevice,
    device_ref,
    devices_by_premise,
    premise_controllable_devices,
)
from assessment.models import AvailabilityDeclaration, BaselineInterval, MeterReading
from assessment.services import baseline_compute, interval_starts
from flexplatform.errors import ApplicationError

from .bulk import id_chunks as _chunks
from .bulk import in_values
from .models import (
    DeviceDispatch,
    DispatchSignal,
    DREvent,
    Enrollment,
    EventPerformance,
    OadrReport,
    OutboxMessage,
    Penalty,
    Reservation,
    Telemetry,
    VenResource,
)
from .openadr_reports import common_minutes, on_grid, report_readings, window_period


def events_visible_to(user) -> QuerySet[DREvent]:
    qs = DREvent.objects.select_related(
        "premise", "zone", "verification__baseline__choice", "award", "program", "buyer"
    )
    role = user_role(user)
    if role in (Membership.Role.ADMIN, Membership.Role.AUDITOR):
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        orgs = user_organisations(user, role=role)
        # market awards name their paying operator as ``buyer``; request awards also through the request;
        # events without an award (operator, emergency, cascade) by the operator's zones
        return qs.filter(
            Q(buyer__in=orgs)
            | Q(award__buyer__in=orgs)
            | Q(award__request__operator__in=orgs)
            | Q(award__isnull=True, zone_id__in=operator_zone_ids(user))
        )
    if role in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR):
        return qs.filter(premise__in=premises_visible_to(user))
    return qs.none()


def event_days_for_premise(*, premise_id: int, tz: str) -> set:
    """Local dates on which the premise had an event (excluded from its baselines)."""
    zone = ZoneInfo(tz)
    days = set()
    for start, end in (
        DREvent.objects.filter(premise_id=premise_id)
        .exclude(status=DREvent.Status.CANCELLED)
        .values_list("start", "end")
    ):
        days.add(start.astimezone(zone).date())
        days.add(end.astimezone(zone).date())
    return days


# --- Devices (the accounts device registry, ADR 0029) ---------------------------------------------------------


def device_usage(*, device_ids: list[int], day, exclude_event_ids=()) -> dict[int, tuple[int, int]]:
    """Device pk -> (events commanded on local ``day``, events commanded in ``day``'s month), from the device
    dispatch records of events not cancelled (the device's per-day / per-month event budget)."""
    out: dict[int, list[int]] = {}
    month_start = day.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    for chunk in _chunks(device_ids):
        rows = (
            DeviceDispatch.objects.filter(
                device_id__in=in_values(chunk), local_day__gte=month_start, local_day__lt=next_month
            )
            .exclude(event__status=DREvent.Status.CANCELLED)
            .exclude(event_id__in=in_values(list(exclude_event_ids)))
            .values_list("device_id", "local_day")
        )
        for device_id, local_day in rows:
            counts = out.setdefault(device_id, [0, 0])
            counts[1] += 1
            if local_day == day:
                counts[0] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def declared_soc_by_premise(*, premise_ids: list[int], start: datetime, end: datetime) -> dict[int, Decimal]:
    """The latest availability declaration's state of charge covering the window, per premise that has one."""
    out: dict[int, Decimal] = {}
    for chunk in _chunks(sorted(set(premise_ids))):
        for premise_id, soc in (
            AvailabilityDeclaration.objects.filter(
                premise_id__in=in_values(chunk), valid_from__lt=end, valid_until__gt=start, soc_percent__isnull=False
            )
            .order_by("premise_id", "created_at", "pk")
            .values_list("premise_id", "soc_percent")
        ):
            out[premise_id] = soc  # the latest wins
    return out


def events_devices(events, *, now: datetime | None = None) -> dict[int, list[ControllableDevice]]:
    """For each event (with ``premise`` loaded), the premise's registered devices with the kW each can shed over
    the event: capability, comfort band, duration, notice (from ``now``), the per-day / per-month event budget
    already used, the owner's declared state of charge (``accounts.selectors.devices``). A few queries for the
    whole batch."""
    events = list(events)
    if not events:
        return {}
    premises = devices_by_premise({e.premise_id for e in events})
    device_ids = [d.pk for ds in premises.values() for d in ds]
    out: dict[int, list[ControllableDevice]] = {}
    usage_by_day: dict = {}
    socs: dict = {}
    exclude = [e.pk for e in events]
    for event in events:
        day = event.start.astimezone(ZoneInfo(event.premise.timezone)).date()
        if day not in usage_by_day:
            usage_by_day[day] = device_usage(device_ids=device_ids, day=day, exclude_event_ids=exclude)
        key = (event.start, event.end)
        if key not in socs:
            socs[key] = declared_soc_by_premise(premise_ids=list(premises), start=event.start, end=event.end)
        notice = max(int((event.start - now).total_seconds() // 60), 0) if now is not None else None
        out[event.pk] = premise_controllable_devices(
            premise=event.premise_id,
            start=event.start,
            end=event.end,
            notice_minutes=notice,
            usage=usage_by_day[day],
            soc_percent=socs[key].get(event.premise_id),
            devices=premises.get(event.premise_id, []),
        )
    return out


def premise_devices(premise, *, start: datetime, end: datetime, now: datetime | None = None) -> list:
    """The premise's registered devices as :class:`ControllableDevice` for ``[start, end)`` (no event)."""
    day = start.astimezone(ZoneInfo(premise.timezone)).date()
    devices = devices_by_premise([premise.pk]).get(premise.pk, [])
    notice = max(int((start - now).total_seconds() // 60), 0) if now is not None else None
    return premise_controllable_devices(
        premise=premise.pk,
        start=start,
        end=end,
        notice_minutes=notice,
        usage=device_usage(device_ids=[d.pk for d in devices], day=day),
        soc_percent=declared_soc_by_premise(premise_ids=[premise.pk], start=start, end=end).get(premise.pk),
        devices=devices,
    )


# --- Compliance standing, penalties (read by market and settlement) ---------------------------------------------


def resource_suspended(premise) -> bool:
    """True when the premise is suspended from any program for repeated non-performance (the market refuses its
    offers while it is)."""
    premise_id = getattr(premise, "pk", premise)
    return Enrollment.objects.filter(premise_id=premise_id, status=Enrollment.Status.SUSPENDED).exists()


def resource_derate(premise) -> Decimal:
    """The lowest derate factor among the premise's enrollments (1 = full capacity)."""

    premise_id = getattr(premise, "pk", premise)
    return Enrollment.objects.filter(premise_id=premise_id).aggregate(d=Min("derate"))["d"] or Decimal("1")


def penalties_for_period(*, start: datetime, end: datetime) -> QuerySet:
    """Penalties whose event delivery started in ``[start, end)``, for settlement to post to the ledger:
    each row has ``payer`` (organisation), ``amount`` (Decimal, currency units), ``event``, ``reason``."""
    return Penalty.objects.filter(delivery_start__gte=start, delivery_start__lt=end).select_related(
        "payer", "premise", "event"
    )


# --- Monitoring -----------------------------------------------------------------------------------------------


def event_measured_kw(*, event: DREvent, now: datetime | None = None) -> Decimal:
    """The resource's measured reduction now.

    Meter data first: for the latest interval of the event that has a reading, (baseline - actual) kWh over the
    interval length, the baseline from ``assessment.services.baseline_compute`` for the event window. Without a
    reading yet, the usage the resource's VEN reported over OpenADR 3 for its latest reported interval (against
    the same baseline, or the VEN's reported BASELINE for a resource without a meter). Else device telemetry: for each device, its pre-event draw minus its latest draw (summed).
    A device that has not acknowledged its command contributes nothing.
    """

    now = now or timezone.now()
    meter = event.premise.meters.order_by("id").first()
    if meter is not None:
        reading = (
            MeterReading.objects.filter(meter=meter, start__gte=event.start, start__lt=min(event.end, now))
            .order_by("-start")
            .first()
        )
        if reading is not None:
            try:
                baseline = baseline_compute(meter=meter, window_start=event.start, window_end=event.end, now=now)
            except ApplicationError:  # not enough history: fall back to telemetry
                baseline = None
            if baseline is not None:
                base = (
                    BaselineInterval.objects.filter(baseline=baseline, start=reading.start)
                    .values_list("kwh", flat=True)
                    .first()
                )
                if base is not None:
                    hours = Decimal(meter.interval_minutes) / Decimal(60)
                    return max((base - reading.kwh) / hours, Decimal("0")).quantize(Decimal("0.001"))
    reported = _ven_reported_kw(event=event, meter=meter, now=now)
    if reported is not None:
        return reported
    acked = set(
        OutboxMessage.objects.filter(event=event, status=OutboxMessage.Status.ACKNOWLEDGED).values_list(
            "destination", flat=True
        )
    )
    total = Decimal("0")
    latest: dict[str, Telemetry] = {}
    for t in Telemetry.objects.filter(event=event, at__lte=now).order_by("at"):
        latest[t.device_id] = t
    for device_id, t in latest.items():
        if device_id not in acked or t.baseline_kw is None:
            continue
        total += max(t.baseline_kw - t.kw, Decimal("0"))
    return total.quantize(Decimal("0.001"))


def ven_reported_energy(*, event: DREvent, minutes: int | None = None):
    """What the event's resource's VENs reported for it over OpenADR 3, on a grid of ``minutes`` (the meter's
    interval; without a meter the reports' own interval length): ``(minutes, {start: GridValue})`` with usage and
    baseline kWh per interval of the event window (``activation.openadr_reports.on_grid``). Each report counts
    for the resources its VEN linked to the event's premise; later reports replace earlier ones."""
    reports = list(OadrReport.objects.filter(event=event, ven__isnull=False).order_by("modified_at", "id"))
    if not reports:
        return minutes, {}
    linked = set(
        VenResource.objects.filter(ven_id__in={r.ven_id for r in reports}, premise_id=event.premise_id).values_list(
            "ven_id", "resource_name"
        )
    )
    by_resource: dict[str, list] = {}
    for report in reports:
        try:
            readings = report_readings(
                resources=report.resources,
                payload_descriptors=report.payload_descriptors,
                default_period=window_period(event.start, event.end),
            )
        except ValueError:
            continue  # refused at posting; an old unreadable one is ignored
        for r in readings:
            if (report.ven_id, r.resource_name) in linked:
                by_resource.setdefault(f"{report.ven_id}/{r.resource_name}", []).append(r)
    if not by_resource:
        return minutes, {}
    minutes = minutes or common_minutes(r for rs in by_resource.values() for r in rs)
    if not minutes:
        return minutes, {}

    return minutes, on_grid(by_resource, interval_starts(event.start, event.end, minutes), minutes)


def _ven_reported_kw(*, event: DREvent, meter, now: datetime) -> Decimal | None:
    """Measured reduction (kW) over the latest interval the VEN reported usage for, or None."""
    minutes, grid = ven_reported_energy(event=event, minutes=meter.interval_minutes if meter else None)
    done = sorted(s for s, v in grid.items() if v.usage_kwh is not None and s + timedelta(minutes=minutes) <= now)
    if not done:
        return None
    start = done[-1]
    base = grid[start].baseline_kwh
    if meter is not None:
        try:
            baseline = baseline_compute(meter=meter, window_start=event.start, window_end=event.end, now=now)
        except ApplicationError:
            baseline = None
        if baseline is not None:
            base = BaselineInterval.objects.filter(baseline=baseline, start=start).values_list("kwh", flat=True).first()
    if base is None:
        return None
    hours = Decimal(minutes) / Decimal(60)
    return max((base - grid[start].usage_kwh) / hours, Decimal("0")).quantize(Decimal("0.001"))


def event_monitor_rows(*, events) -> list[dict]:
    """Live rows for the operator console: per event, target, measured kW, acks."""

    now = timezone.now()
    counts = {
        r["event_id"]: r
        for r in OutboxMessage.objects.filter(event__in=events, channel=OutboxMessage.Channel.MQTT)
        .exclude(destination__contains="#")  # restore and revision messages follow a device's command
        .values("event_id")
        .annotate(
            total=Count("id"),
            acked=Count("id", filter=Q(status=OutboxMessage.Status.ACKNOWLEDGED)),
            no_ack=Count("id", filter=Q(status=OutboxMessage.Status.NO_ACK)),
            pending=Count("id", filter=Q(status=OutboxMessage.Status.PENDING)),
        )
    }
    rows = []
    for e in events:
        c = counts.get(e.pk, {})
        measured = event_measured_kw(event=e, now=now) if e.status == DREvent.Status.ACTIVE else None
        rows.append(
            {
                "event": e,
                "devices": c.get("total", 0),
                "acked": c.get("acked", 0),
                "no_ack": c.get("no_ack", 0),
                "pending": c.get("pending", 0),
                "measured_kw": measured,
            }
        )
    return rows


def resource_reliability(premise) -> dict:
    """Reliability indicators of a resource over its verified events (NERC DADS terms): activation success
    rate, mean response time, mean duration compliance, mean magnitude achievement, availability factor."""
    perf = list(EventPerformance.objects.filter(event__premise=premise))
    called = DREvent.objects.filter(premise=premise).exclude(status=DREvent.Status.SCHEDULED).count()
    n = len(perf)
    if not n:
        return {
            "events": 0,
            "success_rate": None,
            "response_seconds": None,
            "duration_compliance": None,
            "magnitude_achievement": None,
            "availability_factor": None,
        }
    responses = [p.response_seconds for p in perf if p.response_seconds is not None]
    return {
        "events": n,
        "success_rate": Decimal(sum(p.activated for p in perf)) / n,
        "response_seconds": (sum(responses) / len(responses)) if responses else None,
        "duration_compliance": sum(p.duration_compliance for p in perf) / n,
        "magnitude_achievement": sum(p.magnitude_achievement for p in perf) / n,
        "availability_factor": Decimal(sum(p.available for p in perf)) / max(called, n),
    }


def resources_reliability(premise_ids) -> dict[int, dict]:
    """:func:`resource_reliability` and :func:`resource_suspended` for many premises in three queries (ids or a
    subquery of ids): premise id -> the same indicators plus ``suspended``."""
    from django.db.models import Avg

    perf = (
        EventPerformance.objects.filter(event__premise_id__in=premise_ids)
        .values("event__premise_id")
        .annotate(
            n=Count("pk"),
            ok=Count("pk", filter=Q(activated=True)),
            avail=Count("pk", filter=Q(available=True)),
            response=Avg("response_seconds"),
            duration=Avg("duration_compliance"),
            magnitude=Avg("magnitude_achievement"),
        )
    )
    called = dict(
        DREvent.objects.filter(premise_id__in=premise_ids)
        .exclude(status=DREvent.Status.SCHEDULED)
        .values("premise_id")
        .annotate(c=Count("pk"))
        .values_list("premise_id", "c")
    )
    suspended = set(
        Enrollment.objects.filter(premise_id__in=premise_ids, status=Enrollment.Status.SUSPENDED).values_list(
            "premise_id", flat=True
        )
    )
    out: dict[int, dict] = {}
    for r in perf:
        pid, n = r["event__premise_id"], r["n"]
        out[pid] = {
            "events": n,
            "success_rate": Decimal(r["ok"]) / n,
            "response_seconds": r["response"],
            "duration_compliance": r["duration"],
            "magnitude_achievement": r["magnitude"],
            "availability_factor": Decimal(r["avail"]) / max(called.get(pid, 0), n),
        }
    empty = {
        k: None
        for k in (
            "success_rate",
            "response_seconds",
            "duration_compliance",
            "magnitude_achievement",
            "availability_factor",
        )
    }
    for pid in suspended:
        out.setdefault(pid, {"events": 0, **empty})
    for pid, row in out.items():
        row["suspended"] = pid in suspended
    return out


def portfolio_response(*, aggregator) -> list[dict]:
    """Per event window, the aggregator portfolio's target, delivered and count of resources."""
    rows = (
        DREvent.objects.filter(premise__aggregator=aggregator)
        .values("start", "end")
        .annotate(
            resources=Count("id"),
            target_kw=Sum("target_kw"),
            delivered_kwh=Sum("verification__delivered_kwh"),
            committed_kwh=Sum("verification__committed_kwh"),
        )
        .order_by("-start")
    )
    return list(rows)


def consumer_events(*, user) -> dict:
    qs = events_visible_to(user).select_related("program", "opt_out", "performance")
    now = timezone.now()
    return {
        "upcoming": [
            e
            for e in qs
            if e.status in (DREvent.Status.SCHEDULED, DREvent.Status.NOTIFIED, DREvent.Status.ACTIVE) and e.end > now
        ],
        "past": [
            e
            for e in qs.order_by("-start")
            if e.status in (DREvent.Status.COMPLETED, DREvent.Status.CANCELLED) or e.end <= now
        ][:20],
    }


# --- Who pays: the operator of a zone, reservations ------------------------------------------------------------


def zone_operator(*, zone, user=None):
    """The grid operator that buys (pays for) an event in ``zone`` that no award names: the acting user's
    operator organisation when it serves the zone, else the operator serving the zone nearest to it in the
    hierarchy (the zone itself, then its parent, ...), lowest id first. ``None`` if no operator serves it."""
    if user is not None:
        for org in user_organisations(user, role=Membership.Role.GRID_OPERATOR):
            if zone.pk in zone_with_descendant_ids(org.service_zones.all()):
                return org
    z = zone
    while z is not None:
        org = Organisation.objects.filter(kind=Organisation.Kind.GRID_OPERATOR, service_zones=z).order_by("pk").first()
        if org is not None:
            return org
        z = GridZone.objects.filter(pk=z.parent_id).first() if z.parent_id else None
    return None


def reservations_visible_to(user) -> QuerySet:
    """Reservations a user may see: operators those in their service area, consumers and aggregators those of
    their premises, admins and auditors all."""

    qs = Reservation.objects.select_related("premise", "zone", "buyer", "seller", "award").annotate(
        calls=Count("events", filter=~Q(events__status=DREvent.Status.CANCELLED))
    )
    role = user_role(user)
    if role in (Membership.Role.ADMIN, Membership.Role.AUDITOR):
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        return qs.filter(zone_id__in=operator_zone_ids(user))
    if role in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR):
        return qs.filter(premise__in=premises_visible_to(user))
    return qs.none()


def reservation_called_kw(*, reservation, start: datetime, end: datetime, exclude_event_id: int | None = None):
    """kW already called from the reservation at the busiest instant of ``[start, end)``."""
    rows = (
        DREvent.objects.filter(reservation=reservation, start__lt=end, end__gt=start)
        .exclude(status=DREvent.Status.CANCELLED)
        .exclude(pk=exclude_event_id)
        .values_list("start", "end", "target_kw")
    )
    points = sorted([(max(s, start), 1, kw) for s, e, kw in rows] + [(min(e, end), 0, -kw) for s, e, kw in rows])
    level = peak = Decimal("0")
    for _, _, delta in points:
        level += delta
        peak = max(peak, level)
    return peak


def programs_all() -> QuerySet:
    """Every program (the dispatch console's program picker)."""
    from .models import Program

    return Program.objects.all()


def program_by_code(code: str):
    """The program with ``code``; raises ``Program.DoesNotExist``."""
    from .models import Program

    return Program.objects.get(code=code)


def cascades_visible_to(user) -> QuerySet:
    """Cascades a user may read, newest first: in the zones an operator serves, every one for admins and auditors
    (``accounts.policies.zone_scope``)."""
    from .models import Cascade

    qs = Cascade.objects.select_related("zone", "program").prefetch_related("steps").order_by("-id")
    zone_ids = policies.zone_scope(user)
    return qs if zone_ids is None else qs.filter(zone_id__in=zone_ids)


def cascades_recent(limit: int = 10) -> QuerySet:
    """The latest cascades with their zone, program and steps (dispatch console)."""
    from .models import Cascade

    return Cascade.objects.select_related("zone", "program").prefetch_related("steps").order_by("-id")[:limit]


def emergency_stops_recent(limit: int = 10) -> QuerySet:
    """The latest emergency stops with who engaged and lifted them (dispatch console)."""
    from .models import EmergencyStop

    return EmergencyStop.objects.select_related("engaged_by", "lifted_by")[:limit]


def events_open_for(user, limit: int = 100) -> list[DREvent]:
    """The events a user may see that are neither completed nor cancelled, earliest first (live monitor)."""
    qs = events_visible_to(user).exclude(status=DREvent.Status.COMPLETED).exclude(status=DREvent.Status.CANCELLED)
    return list(qs.order_by("start")[:limit])


def registry_device_specs(*, premises=None, channel: str = "mqtt", draw_share: float = 1.0) -> list:
    """``(device ref, premise id, draw kW)`` of the registered devices on ``channel`` (the simulator's and the
    MQTT tests' fleet): the draw is ``draw_share`` x the device's highest controllable power."""
    from accounts.models import Device

    qs = Device.objects.filter(control_channel=channel, active=True).order_by("pk")
    if premises is not None:
        qs = qs.filter(premise__in=list(premises))
    return [
        (device_ref(pk), premise_id, float(max_kw) * draw_share)
        for pk, premise_id, max_kw in qs.values_list("pk", "premise_id", "max_kw")
    ]


def event_accountable_kw(event) -> Decimal | None:
    """The kW the premise answers for in ``event`` (ADR 0029): what the platform actually commanded to the
    devices it has, less the commands the platform failed to get out (never sent, given up or cancelled on its
    side). A device that did not acknowledge, a station that rejected its profile and a device the owner opted
    out of stay the owner's. None: the event was not dispatched to devices (the whole target is the measure, as
    for a site selling on a labelled estimate). A premise with devices of which none could be commanded: 0."""
    dispatches = list(DeviceDispatch.objects.filter(event=event).values_list("device_id", "channel", "shed_kw"))
    if not dispatches:
        dispatched = DispatchSignal.objects.filter(event=event).exists()
        has_devices = event.premise.devices.filter(active=True).exists()
        return Decimal("0.000") if dispatched and has_devices else None
    failed_refs = set(
        OutboxMessage.objects.filter(
            event=event,
            channel__in=[OutboxMessage.Channel.MQTT, OutboxMessage.Channel.OCPP, OutboxMessage.Channel.S2],
            status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED, OutboxMessage.Status.CANCELLED],
        )
        .exclude(Q(last_error__startswith="station rejected") | Q(last_error__startswith="CEM rejected"))
        .exclude(destination__contains="#")
        .values_list("destination", flat=True)
    )
    total = sum(
        (shed for device_id, _, shed in dispatches if device_ref(device_id) not in failed_refs), Decimal("0.000")
    )
    return min(total, event.target_kw)
