"""What the onboarding wizard reads and writes in accounts: registering a consumer organisation (the wizard's one
new write) and the accounts-only facts that mark each step done. The wizard itself is ``portal.views.onboarding``.

Each step's completion is read from the data (an organisation, a premise, a meter, a consent, a device, a submitted
KYC case), never stored."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from flexplatform.errors import Conflict

from .models import (
    Consent,
    Device,
    GridZone,
    Membership,
    Meter,
    Organisation,
    Premise,
    VerificationCase,
)


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


def onboarding_steps_done(
    *, organisation: Organisation | None, premises: list[Premise], meters=None, devices=None
) -> dict[str, bool]:
    """Which onboarding steps the consumer organisation has completed, read from its data (``meters`` and
    ``devices``: the premises' meters and devices when the caller has loaded them already)."""
    return {
        "account": organisation is not None,
        "premise": bool(premises),
        "meter": bool(meters) if meters is not None else Meter.objects.filter(premise__in=premises).exists(),
        "consent": Consent.objects.filter(premise__in=premises).exists(),
        "devices": bool(devices) if devices is not None else Device.objects.filter(premise__in=premises).exists(),
        "kyc": organisation is not None
        and VerificationCase.objects.filter(organisation=organisation)
        .exclude(status=VerificationCase.Status.DRAFT)
        .exists(),
    }


def premises_of(organisation: Organisation | None) -> QuerySet[Premise]:
    return Premise.objects.filter(organisation=organisation)


def meters_of(premises) -> list[Meter]:
    return list(Meter.objects.filter(premise__in=premises).select_related("premise").order_by("meter_id"))


def devices_of(premises) -> QuerySet[Device]:
    return Device.objects.filter(premise__in=premises).select_related("premise").order_by("premise_id", "name")


def feeder_zones() -> QuerySet[GridZone]:
    """The zones a premise connects to (feeders)."""
    return GridZone.objects.filter(kind=GridZone.Kind.FEEDER)


def aggregators() -> QuerySet[Organisation]:
    return Organisation.objects.filter(kind=Organisation.Kind.AGGREGATOR)


def verification_case_draft(organisation: Organisation) -> VerificationCase | None:
    """The organisation's KYC case still being drafted, if any."""
    return VerificationCase.objects.filter(organisation=organisation, status=VerificationCase.Status.DRAFT).first()
