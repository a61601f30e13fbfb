"""Read models of an organisation's membership: members and invitations not yet accepted."""

from __future__ import annotations

from django.utils import timezone

from ..invitations import INVITABLE_ROLES, invitation_problem
from ..models import Invitation, Membership, Organisation


def organisation_members(organisation: Organisation) -> dict:
    """The members page's rows: members (email, role, manager, since) and invitations not yet accepted."""
    members = list(
        Membership.objects.filter(organisation=organisation).select_related("user").order_by("created_at", "pk")
    )
    invitations = list(
        Invitation.objects.filter(organisation=organisation, accepted_at=None)
        .select_related("invited_by")
        .order_by("-created_at")[:200]
    )
    now = timezone.now()
    return {
        "members": members,
        "invitations": [{"invitation": i, "problem": invitation_problem(i, now=now)} for i in invitations],
        "roles": INVITABLE_ROLES.get(organisation.kind, ()),
    }
