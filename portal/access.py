"""Who may open a portal page: the signed-in user's role (``accounts.selectors.user_role``)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from accounts.selectors import user_role

R = Membership.Role
OPERATOR = (R.GRID_OPERATOR, R.ADMIN)

#: where ``/`` sends a signed-in user of each role
ROLE_HOME = {
    R.CONSUMER: "portal:consumer",
    R.AGGREGATOR: "portal:aggregator",
    R.GRID_OPERATOR: "portal:operator",
    R.ADMIN: "portal:operator",
}


def require_role(request, *roles, message: str = "This page is for another role.") -> str:
    """The user's role when it is one of ``roles``; otherwise 403."""
    role = user_role(request.user)
    if role not in roles:
        raise PermissionDenied(message)
    return role
