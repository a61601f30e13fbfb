"""Tax profile services: an organisation's member (or an admin) records its tax identifier, checked for the
format of its country (``accounts.taxids``); the annual tax statement (``settlement.services.tax_statements``)
prints it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from flexplatform.errors import ApplicationError, NotPermitted

from . import policies
from .models import Organisation
from .models_tax import TaxProfile
from .taxids import TaxIdInvalid, tax_id_normalise


@transaction.atomic
def tax_profile_set(*, user, organisation: Organisation, country: str, tax_id: str, legal_name: str = "") -> TaxProfile:
    """Record (or replace) ``organisation``'s tax identifier; refused unless the user acts for it (auditors never)
    or the identifier lacks its country's format (nothing is changed then)."""
    if not policies.may_write(user):
        raise NotPermitted("Auditors write nothing.", fields={"organisation": ["Read-only role."]})
    policies.require_act_for(user, organisation, field="organisation")
    try:
        normalised = tax_id_normalise(country=country, value=tax_id)
    except TaxIdInvalid as exc:
        raise ApplicationError(str(exc), fields={exc.field: [str(exc)]}) from exc
    profile, _ = TaxProfile.objects.select_for_update().update_or_create(
        organisation=organisation,
        defaults={
            "country": country.strip().upper(),
            "tax_id": normalised,
            "legal_name": legal_name.strip()[:200],
            "updated_at": timezone.now(),
            "updated_by": user,
        },
    )
    return profile


def tax_profile_of(organisation: Organisation) -> TaxProfile | None:
    return TaxProfile.objects.filter(organisation=organisation).first()
