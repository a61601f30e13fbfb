"""Demand-response programs and the enrollment of resources in them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from assessment.choice_services import baseline_program_ensure, program_enrol
from assessment.models import BaselineProgram
from flexplatform.errors import ApplicationError

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
