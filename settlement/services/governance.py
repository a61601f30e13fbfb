"""Governance of market parameters: proposals, votes weighted by staked Governance tokens, quorum, execution.

Rules: a proposal names a parameter of :data:`market.parameters.DEFAULTS` and a new value; voting is open
``[voting_starts, voting_ends)``; one vote per organisation, weighted by its Governance tokens staked and
locked at the moment it votes. When voting has ended the proposal is tallied: it passes when the votes cast
reach the quorum (``governance_quorum_pct`` of all staked Governance tokens when voting opened) and more
weight is for than against. Only a passed proposal executes, once, changing the parameter. Every step is
audited (:class:`settlement.models.AuditRecord`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from market.parameters import DEFAULTS, MAXIMA, market_parameter
from market.services.parameters import market_parameter_set

from .. import assets
from ..errors import SettlementError
from ..models import Proposal, Stake, Vote
from .audit_trail import audit
from .staking import governance_weight

HUNDRED = Decimal(100)


def _staked_governance(at: datetime) -> Decimal:
    return Stake.objects.filter(
        asset=assets.GOVERNANCE, status=Stake.Status.LOCKED, locked_from__lte=at, locked_until__gt=at
    ).aggregate(t=Sum("amount"))["t"] or Decimal("0")


def proposal_create(
    *,
    proposer,
    parameter: str,
    new_value: Decimal,
    rationale: str = "",
    voting_days: int = 7,
    actor=None,
    now: datetime | None = None,
) -> Proposal:
    now = now or timezone.now()
    errors = {}
    if parameter not in DEFAULTS:
        errors["parameter"] = [f"One of {', '.join(sorted(DEFAULTS))}."]
    if new_value < 0:
        errors["new_value"] = ["Must not be negative."]
    elif parameter in MAXIMA and new_value > MAXIMA[parameter]:
        errors["new_value"] = [f"At most {MAXIMA[parameter]}."]
    if not 1 <= voting_days <= 30:
        errors["voting_days"] = ["Between 1 and 30 days."]
    if errors:
        raise ApplicationError("Invalid proposal.", code=SettlementError.INVALID, fields=errors)
    if governance_weight(proposer, at=now) <= 0:
        raise NotPermitted("Only holders of staked Governance tokens may propose.")
    quorum = (_staked_governance(now) * market_parameter("governance_quorum_pct") / HUNDRED).quantize(assets.CENT)
    with transaction.atomic():
        proposal = Proposal.objects.create(
            parameter=parameter,
            new_value=new_value,
            old_value=market_parameter(parameter),
            rationale=rationale,
            proposer=proposer,
            voting_starts=now,
            voting_ends=now + timedelta(days=voting_days),
            quorum_weight=quorum,
        )
        audit(
            action="proposal.created",
            obj=proposal,
            actor=actor,
            organisation=proposer,
            parameter=parameter,
            new_value=new_value,
            quorum=quorum,
        )
    return proposal


def vote_cast(*, proposal_id: int, voter, support: bool, actor=None, now: datetime | None = None) -> Vote:
    now = now or timezone.now()
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
        if proposal.status != Proposal.Status.OPEN or not proposal.voting_starts <= now < proposal.voting_ends:
            raise Conflict("Voting on this proposal is closed.")
        weight = governance_weight(voter, at=now)
        if weight <= 0:
            raise NotPermitted("Voting needs staked Governance tokens.")
        try:
            with transaction.atomic():
                vote = Vote.objects.create(proposal=proposal, voter=voter, support=support, weight=weight)
        except IntegrityError as exc:
            raise Conflict("This organisation has already voted.") from exc
        if support:
            proposal.weight_for += weight
        else:
            proposal.weight_against += weight
        proposal.save(update_fields=["weight_for", "weight_against"])
        audit(action="proposal.voted", obj=proposal, actor=actor, organisation=voter, support=support, weight=weight)
    return vote


def proposal_tally(*, proposal_id: int, now: datetime | None = None) -> Proposal:
    now = now or timezone.now()
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
        if proposal.status != Proposal.Status.OPEN:
            return proposal
        if now < proposal.voting_ends:
            raise Conflict("Voting has not ended.")
        cast = proposal.weight_for + proposal.weight_against
        passed = cast > 0 and cast >= proposal.quorum_weight and proposal.weight_for > proposal.weight_against
        proposal.status = Proposal.Status.PASSED if passed else Proposal.Status.REJECTED
        proposal.tallied_at = now
        proposal.save(update_fields=["status", "tallied_at"])
        audit(
            action=f"proposal.{proposal.status}",
            obj=proposal,
            weight_for=proposal.weight_for,
            weight_against=proposal.weight_against,
            quorum=proposal.quorum_weight,
        )
    return proposal


def proposal_execute(*, proposal_id: int, actor=None, now: datetime | None = None) -> Proposal:
    now = now or timezone.now()
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
        if proposal.status == Proposal.Status.EXECUTED:
            return proposal
        if proposal.status != Proposal.Status.PASSED:
            raise Conflict(f"Proposal {proposal.pk} is {proposal.status}; only a passed proposal executes.")
        market_parameter_set(name=proposal.parameter, value=proposal.new_value)
        proposal.status = Proposal.Status.EXECUTED
        proposal.executed_at = now
        proposal.save(update_fields=["status", "executed_at"])
        audit(
            action="proposal.executed",
            obj=proposal,
            actor=actor,
            parameter=proposal.parameter,
            old_value=proposal.old_value,
            new_value=proposal.new_value,
        )
    return proposal


def proposals_tally_due(*, now: datetime | None = None) -> list[int]:
    """Tally every proposal whose voting has ended, and execute those that passed."""
    now = now or timezone.now()
    done = []
    for pk in Proposal.objects.filter(status=Proposal.Status.OPEN, voting_ends__lte=now).values_list("pk", flat=True):
        if proposal_tally(proposal_id=pk, now=now).status == Proposal.Status.PASSED:
            proposal_execute(proposal_id=pk, now=now)
        done.append(pk)
    return done
