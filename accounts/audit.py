"""The audit trail: every change of verification, consent or enrolment status (who, when, from -> to, why).

Written only by the services that change those statuses, inside their transaction; never updated or deleted."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from .models import AuditEntry, Organisation


def audit_record(
    *,
    subject_type: str,
    subject_id: int,
    organisation: Organisation | None,
    actor=None,
    from_status: str = "",
    to_status: str,
    reason: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        subject_type=subject_type,
        subject_id=subject_id,
        organisation=organisation,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        at=at or timezone.now(),
    )


def audit_entries(
    *, subject_type: str | None = None, subject_id: int | None = None, organisation_id: int | None = None
) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.select_related("actor", "organisation")
    if subject_type:
        qs = qs.filter(subject_type=subject_type)
    if subject_id is not None:
        qs = qs.filter(subject_id=subject_id)
    if organisation_id is not None:
        qs = qs.filter(organisation_id=organisation_id)
    return qs
