"""The portal onboarding wizard's read model and its one new write (registering a consumer organisation).

Steps: account -> premise -> meter -> consent -> devices -> KYC upload. Each step's completion is read from the
data (an organisation, a premise, a meter, a consent, a device, a submitted KYC case), never stored."""

from __future__ import annotations

from django.db import transaction

from flexplatform.errors import Conflict

from .models import Consent, Device, Membership, Meter, Organisation, Premise, VerificationCase

STEPS = [
    ("account", "Account"),
    ("premise", "Premise"),
    ("meter", "Meter"),
    ("consent", "Consent"),
    ("devices", "Devices"),
    ("kyc", "KYC upload"),
]


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
        "meter": Meter.objects.filter(premise__in=premises).exists(),
        "consent": Consent.objects.filter(premise__in=premises).exists(),
        "devices": Device.objects.filter(premise__in=premises).exists(),
        "kyc": org is not None
        and VerificationCase.objects.filter(organisation=org).exclude(status=VerificationCase.Status.DRAFT).exists(),
    }
    steps = [{"key": k, "label": label, "done": done[k]} for k, label in STEPS]
    current = next((s["key"] for s in steps if not s["done"]), None)
    return {
        "organisation": org,
        "premises": premises,
        "meters": onboarding_meters(premises),
        "devices": onboarding_devices(premises),
        "steps": steps,
        "current": current,
        "percent": int(100 * sum(done.values()) / len(done)),
    }


def onboarding_meters(premises: list[Premise]) -> list[dict]:
    """The registered meters with their validation status (validated, or why not yet)."""
    from assessment.models import MeterStatus

    meters = list(Meter.objects.filter(premise__in=premises).select_related("premise").order_by("meter_id"))
    statuses = {s.meter_id: s for s in MeterStatus.objects.filter(meter__in=meters)}
    out = []
    for m in meters:
        status = statuses.get(m.pk)
        if status is not None and status.validated:
            state = "validated"
        elif status is not None and status.reasons:
            state = "not validated yet: " + " ".join(status.reasons)
        else:
            state = "not validated yet: waiting for meter data (enough clean history is needed before it can sell)"
        out.append({"meter": m, "state": state, "validated": bool(status and status.validated)})
    return out


def onboarding_devices(premises: list[Premise]) -> list[dict]:
    """The registered devices with the kW the platform counts for each (capability assessment)."""
    from .device_services import device_capability

    devices = Device.objects.filter(premise__in=premises).select_related("premise").order_by("premise_id", "name")
    return [{"device": d, "capability": device_capability(d)} for d in devices]
