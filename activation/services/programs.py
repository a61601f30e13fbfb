"""Demand-response programs and the enrollment of resources in them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from assessment.choice_services import baseline_program_ensure, program_enrol, programs_enrol_missing
from assessment.models import BaselineProgram
from flexplatform.errors import ApplicationError
from market.services.eligibility import premises_changed

from ..models import Enrollment, Program

MARKET_PROGRAM_CODE = "day-ahead-market"


EMERGENCY_PROGRAM_CODE = "emergency"


def market_program() -> Program:
    """The program market awards run under (the day-ahead market's performance and penalty rules)."""
    program, _ = Program.objects.get_or_create(
        code=MARKET_PROGRAM_CODE,
        defaults={
            "name": "Day-ahead flexibility market",
            "notice_minutes": 0,
            "max_events_per_day": 2,
            "max_events_per_month": 31,
            "penalty_rate_per_mwh": Decimal("100.00"),
            "opt_out_consequence": Program.OptOutConsequence.PENALTY,
        },
    )
    return program


def market_baseline_program() -> BaselineProgram:
    """The baseline program market awards settle under: the platform's method, each resource's settlement baseline
    picked by ``MARKET_BASELINE_POLICY`` (default: most accurate on the resource's like days, monthly)."""
    return baseline_program_ensure(
        code=MARKET_PROGRAM_CODE,
        name="Day-ahead flexibility market",
        method=settings.ASSESSMENT_BASELINE_METHOD,
        policy=settings.MARKET_BASELINE_POLICY,
    )


def market_enrol(*, premise, committed_kw: Decimal) -> Enrollment:
    """Enrol a resource that won a market award in the market program, and its meter in the market's baseline
    program (a premise already in another baseline program keeps it)."""
    enrollment, _ = Enrollment.objects.get_or_create(
        program=market_program(),
        premise=premise,
        defaults={"committed_kw": committed_kw, "safety_max_kw": committed_kw, "tier": 1},
    )
    program_enrol(premise=premise, program=market_baseline_program(), replace=False)
    return enrollment


def market_enrol_many(*, program: Program, committed_kw: dict[int, Decimal]) -> None:
    """:func:`market_enrol` for many resources at once (premise id -> the kW of its first award): the premises
    not yet in the market program are enrolled with that kW as committed and safety limit (what
    ``market_enrol`` gives the first award of a resource), and each meter not yet in a baseline program goes
    into the market's. Set-based: three statements, whatever the number; safe under concurrency (the
    enrollment's unique key (program, premise): of two chunks enrolling a premise at once, one row is kept)."""
    ids = sorted(committed_kw)
    if not ids:
        return
    enrolled = set(Enrollment.objects.filter(program=program, premise_id__in=ids).values_list("premise_id", flat=True))
    new = [pid for pid in ids if pid not in enrolled]
    if new:
        Enrollment.objects.bulk_create(
            [
                Enrollment(
                    program=program,
                    premise_id=pid,
                    committed_kw=committed_kw[pid],
                    safety_max_kw=committed_kw[pid],
                    tier=1,
                )  # fmt: skip
                for pid in new
            ],
            ignore_conflicts=True,
        )
        premises_changed(premise_ids=new)  # what post_save of each Enrollment would have said (market capacity)
    programs_enrol_missing(premise_ids=ids, program=market_baseline_program())


def program_create(**fields) -> Program:
    program = Program(**fields)
    program.full_clean()
    program.save()
    return program


def enrollment_create(
    *,
    program: Program,
    premise,
    committed_kw: Decimal,
    safety_max_kw: Decimal | None = None,
    tier: int = 1,
    response_minutes: int = 10,
) -> Enrollment:
    if committed_kw <= 0:
        raise ApplicationError("Committed kW must be positive.", fields={"committed_kw": ["Must be positive."]})
    enrollment, _ = Enrollment.objects.get_or_create(
        program=program,
        premise=premise,
        defaults={
            "committed_kw": committed_kw,
            "safety_max_kw": safety_max_kw or committed_kw,
            "tier": tier,
            "response_minutes": response_minutes,
        },
    )
    return enrollment
