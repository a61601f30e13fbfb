"""Reads of the governance page: the proposals (open first, newest first) with their tally and the acting
organisation's own vote, and its voting weight now. A fixed number of queries whatever the number of proposals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, IntegerField, Value, When

from accounts.models import Organisation
from settlement.models import Proposal, Vote
from settlement.services.staking import governance_weight

from . import formatting as fmt

PAGE = 20


@dataclass(frozen=True)
class ProposalRow:
    proposal: Proposal
    parameter: str
    change: str
    cast: Decimal
    quorum_reached: bool
    my_vote: Vote | None
    open: bool


def voting_weight(organisation: Organisation, *, now: datetime) -> Decimal:
    return governance_weight(organisation, at=now)


def proposals_for(organisation: Organisation, *, now: datetime) -> list[ProposalRow]:
    proposals = list(
        Proposal.objects.annotate(
            is_open=Case(
                When(status=Proposal.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        ).order_by("is_open", "-pk")[:PAGE]
    )
    mine = {v.proposal_id: v for v in Vote.objects.filter(voter=organisation, proposal__in=proposals)}
    rows = []
    for p in proposals:
        cast = p.weight_for + p.weight_against
        rows.append(
            ProposalRow(
                proposal=p,
                parameter=fmt.label(p.parameter),
                change=f"{fmt.number(p.old_value, 4)} → {fmt.number(p.new_value, 4)}",
                cast=cast,
                quorum_reached=cast > 0 and cast >= p.quorum_weight,
                my_vote=mine.get(p.pk),
                open=p.status == Proposal.Status.OPEN and p.voting_starts <= now < p.voting_ends,
            )
        )
    return rows


def proposal(pk: int) -> Proposal | None:
    return Proposal.objects.filter(pk=pk).first()
