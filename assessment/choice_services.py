"""Each resource's settlement baseline, chosen by its program's policy and recorded with its evidence.

A baseline program (:class:`~.models.BaselineProgram`) either settles every resource on its own method
(``fixed``), or on the method most accurate on the resource's own days like the event day (``most-accurate``:
:func:`assessment.baselines.choice.choose_method`, the ASHRAE Guideline 14 back-test on the like days of the
ISOs' day types, keeping the program's method unless another is clearly better). The choice is made once per
meter, local month and day type, at the first settlement that needs it, from the meter's history before that
day, and recorded (:class:`~.models.BaselineChoice`) with the back-test that justified it; every event of that
month and day type settles on it, so a choice never changes within an event's settlement and is re-evaluated
each month. Resources without a program settle on the platform default (``ASSESSMENT_BASELINE_METHOD``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Meter, Premise
from flexplatform.errors import ApplicationError

from . import selectors
from .baselines.choice import CHOICE_METHODS, MIN_EXACT_DAYS, SWITCH_MARGIN, TEST_DAYS, choose_method, day_type
from .baselines.compute import METHODS
from .models import BaselineChoice, BaselineProgram, ProgramEnrolment


def _r(x: float) -> float:
    return round(float(x), 3)


def _evidence(choice, *, start_slot: int, end_slot: int) -> dict:
    return {
        "window_slots": [start_slot, end_slot],
        "test_days": [d.isoformat() for d in choice.test_days],
        "margin": SWITCH_MARGIN,
        "scores": {m: _r(v) for m, v in sorted(choice.scores.items())},
        "results": [
            {
                "method": r.method,
                "days": r.days,
                "relative_error_pct": _r(r.relative_error_pct),
                "nmbe_pct": _r(r.nmbe_pct),
                "cvrmse_pct": _r(r.cvrmse_pct),
                "meets_guideline14": r.meets_guideline14,
            }
            for r in sorted(choice.results, key=lambda r: r.method)
        ],
    }


def baseline_choice_for(
    *, meter: Meter, target_day: date, start_slot: int, end_slot: int, now: datetime | None = None
) -> BaselineChoice | None:
    """The meter's recorded settlement-baseline choice for ``target_day``'s month and day type, made now if
    none exists yet; None when the premise is in no baseline program (the platform default applies)."""
    enrolment = ProgramEnrolment.objects.filter(premise_id=meter.premise_id).select_related("program").first()
    if enrolment is None:
        return None
    program = enrolment.program
    month, kind = target_day.replace(day=1), day_type(target_day)
    existing = BaselineChoice.objects.filter(meter=meter, month=month, day_type=kind).first()
    if existing is not None:
        return existing
    grid = excluded = temperature = None
    if program.policy == BaselineProgram.Policy.MOST_ACCURATE:
        grid = selectors.meter_day_grid(meter=meter, first_day=choice_history_start(target_day), last_day=target_day)
        excluded = selectors.baseline_excluded_days(meter=meter, grid=grid, before=target_day)
        found = selectors.temperature_grid(meter=meter, grid=grid)
        temperature = None if found is None else found.values
    unsaved = baseline_choice_unsaved(
        meter=meter,
        program=program,
        target_day=target_day,
        start_slot=start_slot,
        end_slot=end_slot,
        grid=grid,
        excluded=excluded,
        temperature=temperature,
        now=now,
    )
    with transaction.atomic():
        choice_row, _ = BaselineChoice.objects.get_or_create(
            meter=meter,
            month=month,
            day_type=kind,
            defaults={
                f: getattr(unsaved, f)
                for f in ("program", "policy", "method", "default_method", "evidence", "chosen_at")
            },
        )
    return choice_row


def choice_history_start(target_day: date) -> date:
    """The first day of the history a ``most-accurate`` choice for ``target_day`` reads: enough for the longest
    look-back behind the oldest like day (Sundays: one a week)."""
    longest = max(METHODS[m]["lookback_days"] for m in CHOICE_METHODS)
    return target_day - timedelta(days=longest + 7 * (TEST_DAYS + MIN_EXACT_DAYS))


def baseline_choice_unsaved(
    *,
    meter: Meter,
    program: BaselineProgram,
    target_day: date,
    start_slot: int,
    end_slot: int,
    grid,
    excluded: set[date] | None,
    temperature,
    now: datetime | None,
) -> BaselineChoice:
    """The choice (not saved) for ``target_day``'s month and day type under ``program``: its method, else (policy
    ``most-accurate``) the method most accurate on the like days of ``grid`` (the meter's history from
    :func:`choice_history_start`, its excluded days and temperatures). Used by :func:`baseline_choice_for` and by
    the verification chunk's baselines (``assessment.settlement_baselines``)."""
    method, evidence = program.method, {}
    if program.policy == BaselineProgram.Policy.MOST_ACCURATE:
        # no weather data: the regression cannot be back-tested and is not chosen (InsufficientHistory skips it)
        choice = choose_method(
            grid=grid,
            target_day=target_day,
            start_slot=start_slot,
            end_slot=end_slot,
            methods=CHOICE_METHODS,
            excluded_days=excluded,
            temperature=temperature,
            default=program.method,
        )
        if choice is None:
            evidence = {"window_slots": [start_slot, end_slot], "note": "too few like days: the program's method"}
        else:
            method, evidence = choice.method, _evidence(choice, start_slot=start_slot, end_slot=end_slot)
    return BaselineChoice(
        meter=meter,
        month=target_day.replace(day=1),
        day_type=day_type(target_day),
        program=program,
        policy=program.policy,
        method=method,
        default_method=program.method,
        evidence=evidence,
        chosen_at=now or timezone.now(),
    )


@transaction.atomic
def program_enrol(
    *, premise: Premise, program: BaselineProgram, now: datetime | None = None, replace: bool = True
) -> ProgramEnrolment:
    """Settle the premise's baselines under ``program`` from now on (choices already recorded stay).

    ``replace=False`` keeps an existing enrolment in another program (a market award does not move a premise
    out of the program it was enrolled in)."""
    if not replace:
        existing = ProgramEnrolment.objects.filter(premise=premise).first()
        if existing is not None:
            return existing
    enrolment, _ = ProgramEnrolment.objects.update_or_create(
        premise=premise, defaults={"program": program, "enrolled_at": now or timezone.now()}
    )
    return enrolment


def programs_enrol_missing(*, premise_ids: list[int], program: BaselineProgram, now: datetime | None = None) -> None:
    """:func:`program_enrol` with ``replace=False`` for many premises in two statements: the premises not yet
    enrolled in any baseline program are enrolled in ``program``; the others keep theirs. Safe under concurrency
    (one enrolment per premise: its unique key; a premise enrolled meanwhile keeps that enrolment)."""
    ids = sorted(set(premise_ids))
    if not ids:
        return
    enrolled = set(ProgramEnrolment.objects.filter(premise_id__in=ids).values_list("premise_id", flat=True))
    at = now or timezone.now()
    ProgramEnrolment.objects.bulk_create(
        [ProgramEnrolment(premise_id=pid, program=program, enrolled_at=at) for pid in ids if pid not in enrolled],
        ignore_conflicts=True,
    )


def baseline_program_ensure(*, code: str, name: str, method: str, policy: str) -> BaselineProgram:
    """The program ``code``, created with this method and policy if missing (an existing one is left as set)."""
    if method not in METHODS:
        raise ApplicationError(f"Unknown baseline method {method!r}.", fields={"method": ["Unknown method."]})
    if policy not in BaselineProgram.Policy.values:
        raise ApplicationError(f"Unknown baseline policy {policy!r}.", fields={"policy": ["Unknown policy."]})
    program, _ = BaselineProgram.objects.get_or_create(
        code=code, defaults={"name": name, "method": method, "policy": policy}
    )
    return program
