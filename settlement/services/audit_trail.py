"""The audit trail: one append-only record per state change of disputes, governance, stakes and withdrawals."""

from __future__ import annotations

from ..models import AuditRecord


def audit(*, action: str, obj, actor=None, organisation=None, **data) -> AuditRecord:
    return AuditRecord.objects.create(
        actor=actor,
        organisation=organisation,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=obj.pk,
        data={k: str(v) for k, v in data.items()},
    )
