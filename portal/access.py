"""Who may open a portal page: the signed-in user's role, through ``accounts.policies`` (the rules the API uses).

Auditors read every page an operator or admin reads (``auditor_reads``) and submit no form there."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts import policies
from accounts.models import Membership

R = Membership.Role
OPERATOR = (R.GRID_OPERATOR, R.ADMIN)

#: where ``/`` sends a signed-in user of each role
ROLE_HOME = {
    R.CONSUMER: "portal:consumer",
    R.AGGREGATOR: "portal:aggregator",
    R.GRID_OPERATOR: "portal:operator",
    R.ADMIN: "portal:operator",
    R.AUDITOR: "portal:audit",
}


def require_role(request, *roles, message: str = "This page is for another role.", auditor_reads: bool = False) -> str:
    """The user's role when it is one of ``roles`` (or, with ``auditor_reads``, an auditor reading: GET or HEAD);
    otherwise 403."""
    role = policies.role(request.user)
    if role in roles:
        return role
    if auditor_reads and role == R.AUDITOR and request.method in ("GET", "HEAD"):
        return role
    raise PermissionDenied(message)
