"""The portal onboarding wizard's read model and its one new write (registering a consumer organisation).

Steps: account -> premise -> consent -> KYC upload (meters and devices are registered in their own pages)."""

from __future__ import annotations

from django.db import transaction

from flexplatform.errors import Conflict

from .models import Consent, Membership, Organisation, Premise, VerificationCase

STEPS = [("account", "Account"), ("premise", "Premise"), ("consent", "Consent"), ("kyc", "KYC upload")]


@transaction.atomic
def consumer_organisation_register(*, user, name: str) -> Organisation:
    """A signed-in user founds a consumer organisation (an existing name is refused, never joined)."""
    name = name.strip()
    if Organisation.objects.filter(name__iexact=name, kind=Organisation.Kind.CONSUMER).exists():
        raise Conflict(
            "An organisation of that name exists; ask its members to invite you.", fields={"name": ["Taken."]}
        )
    org = Organisation.objects.create(name=name, kind=Organisation.Kind.CONSUMER)
    Membership.objects.create(user=user, organisation=org, role=Membership.Role.CONSUMER)
    user.__dict__.pop("_memberships_cache", None)
    return org


def onboarding_progress(user) -> dict:
    from .selectors import user_organisations

    orgs = user_organisations(user, role=Membership.Role.CONSUMER)
    org = orgs[0] if orgs else None
    premises = list(Premise.objects.filter(organisation=org)) if org else []
    done = {
        "account": org is not None,
        "premise": bool(premises),
        "consent": Consent.objects.filter(premise__in=premises).exists(),
        "kyc": org is not None
        and VerificationCase.objects.filter(organisation=org).exclude(status=VerificationCase.Status.DRAFT).exists(),
    }
    steps = [{"key": k, "label": label, "done": done[k]} for k, label in STEPS]
    current = next((s["key"] for s in steps if not s["done"]), None)
    return {
        "organisation": org,
        "premises": premises,
        "steps": steps,
        "current": current,
        "percent": int(100 * sum(done.values()) / len(done)),
    }
