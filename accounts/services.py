"""Write services for participants: zones, organisations, users, premises, meters."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from flexplatform.errors import ApplicationError

from .models import GridZone, Membership, Meter, Organisation, Premise

User = get_user_model()

ROLE_FOR_KIND = {
    Organisation.Kind.CONSUMER: Membership.Role.CONSUMER,
    Organisation.Kind.AGGREGATOR: Membership.Role.AGGREGATOR,
    Organisation.Kind.GRID_OPERATOR: Membership.Role.GRID_OPERATOR,
    Organisation.Kind.PLATFORM: Membership.Role.ADMIN,
}


def zone_create(
    *,
    code: str,
    name: str,
    kind: str = GridZone.Kind.ISO_ZONE,
    parent: GridZone | None = None,
    jurisdiction: str = "",
    timezone: str = "",
) -> GridZone:
    from .compliance import PROFILES

    if jurisdiction and jurisdiction not in PROFILES:
        raise ApplicationError("Unknown jurisdiction.", fields={"jurisdiction": [f"One of {', '.join(PROFILES)}."]})
    if timezone and not _is_timezone(timezone):
        raise ApplicationError(
            f"Unknown timezone {timezone!r}.", fields={"timezone": ["Give an IANA name such as America/New_York."]}
        )
    zone, _ = GridZone.objects.get_or_create(
        code=code,
        defaults={"name": name, "kind": kind, "parent": parent, "jurisdiction": jurisdiction, "timezone": timezone},
    )
    return zone


def aggregator_licence_set(*, organisation: Organisation, licence_number: str, expires_on=None) -> Organisation:
    """Record an aggregator's registration/licence (checked by the jurisdiction's compliance rules)."""
    if organisation.kind != Organisation.Kind.AGGREGATOR:
        raise ApplicationError(
            "Only aggregators hold an aggregator licence.", fields={"organisation": ["Not an aggregator."]}
        )
    organisation.licence_number = licence_number.strip()
    organisation.licence_expires_on = expires_on
    organisation.save(update_fields=["licence_number", "licence_expires_on"])
    return organisation


def organisation_create(*, name: str, kind: str, service_zones: list[GridZone] | None = None) -> Organisation:
    with transaction.atomic():
        org, _ = Organisation.objects.get_or_create(name=name, kind=kind)
        if service_zones:
            if kind != Organisation.Kind.GRID_OPERATOR:
                raise ApplicationError(
                    "Only grid operators have a service area.", fields={"service_zones": ["Not allowed."]}
                )
            org.service_zones.add(*service_zones)
    return org


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str,
    organisation: Organisation,
    role: str | None = None,
    verified: bool = False,
    password_is_hashed: bool = False,
):
    """Create (or return) a user with a membership; ``verified`` marks the email address as confirmed.

    ``password_is_hashed`` takes an already hashed password (bulk loads hash one password once)."""
    from allauth.account.models import EmailAddress

    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        if password_is_hashed:
            user = User.objects.create(username=email, email=email, password=password)
        else:
            user = User.objects.create_user(username=email, email=email, password=password)
    first = not Membership.objects.filter(organisation=organisation).exists()
    Membership.objects.get_or_create(
        user=user,
        organisation=organisation,
        defaults={"role": role or ROLE_FOR_KIND[organisation.kind], "manages_members": first},
    )
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"primary": True, "verified": verified})
    return user


def premise_create(
    *,
    organisation: Organisation,
    name: str,
    segment: str,
    grid_zone: GridZone,
    timezone: str = "UTC",
    address: str = "",
    utility_account_number: str = "",
    utility_account_holder: str = "",
    tariff: str = "",
) -> Premise:
    """Register a premise. Enrolment with an aggregator is separate: ``accounts.consents`` (consent first)."""
    if organisation.kind != Organisation.Kind.CONSUMER:
        raise ApplicationError(
            "Premises belong to consumer organisations.", fields={"organisation": ["Not a consumer."]}
        )
    if not _is_timezone(timezone):
        raise ApplicationError(
            f"Unknown timezone {timezone!r}.", fields={"timezone": ["Give an IANA name such as America/New_York."]}
        )
    premise, _ = Premise.objects.get_or_create(
        organisation=organisation,
        name=name,
        defaults={
            "segment": segment,
            "grid_zone": grid_zone,
            "timezone": timezone,
            "address": address,
            "utility_account_number": utility_account_number,
            "utility_account_holder": utility_account_holder,
            "tariff": tariff,
        },
    )
    return premise


def meter_create(
    *,
    premise: Premise,
    meter_id: str,
    interval_minutes: int = 15,
    kind: str = Meter.Kind.AMI,
    has_export_channel: bool = False,
    timezone: str = "",
) -> Meter:
    """Register a meter at a premise: id, kind, interval, channels (import always; export if it measures it) and
    timezone (the premise's when not given). Registering the same id at the same premise again changes nothing."""
    errors: dict[str, list[str]] = {}
    if interval_minutes not in (5, 15, 30, 60):
        errors["interval_minutes"] = ["Interval must be 5, 15, 30 or 60 minutes."]
    if kind not in Meter.Kind.values:
        errors["kind"] = [f"One of {', '.join(Meter.Kind.values)}."]
    timezone = (timezone or premise.timezone).strip()
    if not _is_timezone(timezone):
        errors["timezone"] = [f"Unknown timezone {timezone!r}: give an IANA name such as America/New_York."]
    if errors:
        raise ApplicationError(
            "The meter is invalid: " + " ".join(m for ms in errors.values() for m in ms), fields=errors
        )
    meter, _ = Meter.objects.get_or_create(
        meter_id=meter_id,
        defaults={
            "premise": premise,
            "interval_minutes": interval_minutes,
            "kind": kind,
            "has_export_channel": has_export_channel,
            "timezone": timezone,
        },
    )
    if meter.premise_id != premise.pk:
        raise ApplicationError("Meter id already registered at another premise.", fields={"meter_id": ["Taken."]})
    return meter


def _is_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        return False
    return True
