"""KYC/KYB verification: the case in force."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from ..models import Organisation, VerificationCase


def current_verification(organisation: Organisation, *, now: datetime | None = None) -> VerificationCase | None:
    """The organisation's verified case in force now (the one valid longest), or None."""
    now = now or timezone.now()
    return (
        VerificationCase.objects.filter(
            organisation=organisation, status=VerificationCase.Status.VERIFIED, verified_until__gt=now
        )
        .order_by("-verified_until")
        .first()
    )
