"""An organisation's tax profile: the tax identifier its annual tax statements carry (``accounts.taxids``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TaxProfile(models.Model):
    """The tax identifier of an organisation, in the format of its country (checked by ``accounts.taxids``)."""

    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.PROTECT, related_name="tax_profile")
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code of the tax residence.")
    tax_id = models.CharField(max_length=32, help_text="VAT number / TIN, normalised (accounts.taxids).")
    legal_name = models.CharField(max_length=200, blank=True, help_text="Name for the statement, if not the org's.")
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.country} {self.tax_id}"


__all__ = ["TaxProfile"]
