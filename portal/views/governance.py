"""The participant's governance page: the proposals to change market parameters with their tally, and a vote
(for or against; previewed with the organisation's weight, then confirmed) cast through
``settlement.services.governance.vote_cast``. Participants only (``accounts.policies.STAKE_AND_VOTE_ROLES``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import policies
from flexplatform.errors import ApplicationError
from settlement import assets
from settlement.models import Proposal  # for the type of _tally
from settlement.services.governance import vote_cast

from .. import formatting as fmt
from .. import selectors_governance as gov
from ..access import require_role
from ..forms_collateral import VoteForm


def _tally(p: Proposal) -> str:
    return (
        f"for {fmt.token(p.weight_for)} · against {fmt.token(p.weight_against)} · quorum {fmt.token(p.quorum_weight)}"
    )


@login_required
def governance_page(request):
    role = require_role(request, *policies.STAKE_AND_VOTE_ROLES, message="Voting is for participants.")
    org = policies.organisations(request.user, role=role)[0]
    now = timezone.now()
    form = VoteForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        proposal = gov.proposal(d["proposal"])
        support = d["support"] == "for"
        if proposal is None:
            form.add_error(None, "No such proposal.")
        elif d.get("confirm") != "yes":
            preview = {
                "proposal": proposal,
                "support": support,
                "weight": fmt.token(gov.voting_weight(org, now=now), assets.GOVERNANCE),
            }
        else:
            try:
                vote = vote_cast(proposal_id=proposal.pk, voter=org, support=support, actor=request.user)
            except ApplicationError as exc:
                form.add_error(None, exc.detail)
            else:
                proposal.refresh_from_db()
                messages.success(
                    request,
                    f"Vote cast on proposal {proposal.pk}: {'for' if vote.support else 'against'}, weight "
                    f"{fmt.token(vote.weight, assets.GOVERNANCE)}. Tally now: {_tally(proposal)}.",
                )
                return redirect("portal:governance")
    context = {
        "organisation": org,
        "weight": gov.voting_weight(org, now=now),
        "rows": gov.proposals_for(org, now=now),
        "form": form,
        "preview": preview,
        "voted_on": form.data.get("proposal") if form.is_bound else None,
    }
    return render(request, "settlement/governance.html", context)
