"""Reliability indicators of a verified event and the program's compliance rules (penalty, derating, suspension)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q

from ..models import DREvent, Enrollment, EventPerformance, EventVerification, OptOut, OutboxMessage, Penalty
from ..selectors import event_accountable_kw
from .penalties import penalty_rate_per_mwh, penalty_record
from .units import KWH


def event_performance_record(
    *, event: DREvent, verification: EventVerification, rows, now: datetime, announce: bool = True
) -> Penalty | None:
    """Reliability indicators of the event, then the program's compliance rules.

    * magnitude achievement = delivered / committed kWh
    * duration compliance = share of intervals delivering >= threshold x the interval's committed kWh
    * response time = from the event start to the first such interval's end
    * available = not opted out and, if the resource has devices, at least one acknowledged command
    * activated (success) = available and magnitude >= program threshold
    Below the threshold: a penalty of (committed - delivered) kWh x penalty rate, and a failure on the
    enrollment; ``derate_after_failures`` consecutive failures derate it, ``suspend_after_failures`` suspend it.

    Fairness (ADR 0029): "committed" here is what the premise answers for, the kW the platform actually commanded
    to its devices and got out (``selectors.event_accountable_kw``) over the event, never more than the event's
    target: a shortfall caused by the platform not commanding a device is never the consumer's penalty.

    Returns the shortfall penalty recorded, if any (``announce=False``: the caller announces it, see
    :func:`.penalties.penalty_record`).
    """
    commands = (
        OutboxMessage.objects.filter(event=event, channel=OutboxMessage.Channel.MQTT)
        .exclude(destination__endswith="#restore")
        .aggregate(sent=Count("id"), acked=Count("id", filter=Q(status=OutboxMessage.Status.ACKNOWLEDGED)))
    )
    indicators, magnitude, committed = performance_indicators(
        event=event,
        verification=verification,
        rows=rows,
        accountable_kw=event_accountable_kw(event),
        sent=commands["sent"],
        acked=commands["acked"],
        opted_out=OptOut.objects.filter(event=event).exists(),
        now=now,
    )
    # one row per event, written under the event's row lock (event_verify): an update, else a create
    if not EventPerformance.objects.filter(event=event).update(**indicators):
        EventPerformance.objects.create(event=event, **indicators)
    program = event.program
    if program is None:
        return None
    enrollment = Enrollment.objects.select_for_update().filter(program=program, premise_id=event.premise_id).first()
    met = magnitude >= performance_threshold(program)
    penalty = None
    if not met:
        shortfall = (committed - verification.delivered_kwh).quantize(KWH)
        rate = penalty_rate_per_mwh(event=event, program=program)
        if rate > 0 and shortfall > 0:
            penalty = penalty_record(
                event=event,
                reason=Penalty.Reason.SHORTFALL,
                shortfall_kwh=shortfall,
                rate_per_mwh=rate,
                now=now,
                announce=announce,
            )
    fields = enrollment_outcome(enrollment=enrollment, program=program, met=met)
    if fields:
        enrollment.save(update_fields=fields)
    return penalty


def performance_threshold(program) -> Decimal:
    return program.performance_threshold if program else Decimal("0.75")


def performance_indicators(
    *,
    event: DREvent,
    verification: EventVerification,
    rows,
    accountable_kw,
    sent: int,
    acked: int,
    opted_out: bool,
    now,
) -> tuple[dict, Decimal, Decimal]:
    """The event's indicators (the fields of its :class:`EventPerformance`), its magnitude achievement and the
    committed kWh it answers for (see :func:`event_performance_record`); pure."""
    threshold = performance_threshold(event.program)
    committed = verification.committed_kwh
    if accountable_kw is not None:
        hours = Decimal((event.end - event.start).total_seconds()) / Decimal(3600)
        committed = min(committed, (accountable_kw * hours).quantize(KWH))
    if committed <= 0:  # nothing was commanded: nothing to answer for
        magnitude = Decimal("1")
    else:
        magnitude = (verification.delivered_kwh / committed).quantize(Decimal("0.0001"))
    per_interval = committed / len(rows) if rows else Decimal("0")
    ok_rows = [r for r in rows if r[3] >= threshold * per_interval]
    duration = (Decimal(len(ok_rows)) / len(rows)).quantize(Decimal("0.0001")) if rows else Decimal("0")
    response = None
    if ok_rows:
        interval = (rows[1][0] - rows[0][0]) if len(rows) > 1 else (event.end - event.start)
        response = int((ok_rows[0][0] + interval - event.start).total_seconds())
    available = (not sent or acked > 0) and not opted_out
    indicators = {
        "activated": available and magnitude >= threshold,
        "response_seconds": response,
        "duration_compliance": duration,
        "magnitude_achievement": min(magnitude, Decimal("99")),
        "available": available,
        "computed_at": now,
    }
    return indicators, magnitude, committed


def enrollment_outcome(*, enrollment: Enrollment | None, program, met: bool) -> list[str] | None:
    """The program's compliance rules on the enrollment after an event that ``met`` the threshold or not (changed
    in place): a success resets the consecutive failures, a failure counts one and derates or suspends. Returns
    the fields to save, or None when nothing changed."""
    if enrollment is None:
        return None
    if met:
        if enrollment.consecutive_failures:
            enrollment.consecutive_failures = 0
            return ["consecutive_failures"]
        return None
    enrollment.consecutive_failures += 1
    if enrollment.consecutive_failures >= program.suspend_after_failures:
        enrollment.status = Enrollment.Status.SUSPENDED
    elif enrollment.consecutive_failures >= program.derate_after_failures:
        enrollment.status = Enrollment.Status.DERATED
        enrollment.derate = program.derate_factor
    return ["consecutive_failures", "status", "derate"]
