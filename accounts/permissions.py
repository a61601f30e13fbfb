"""DRF permission classes: thin wrappers over ``accounts.policies``."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from . import policies


class HasRole(BasePermission):
    """Grants access to users whose role is one of ``allowed_roles`` (set on the view); auditors may read every
    endpoint and write none (``policies.may_write``)."""

    message = "Your role may not use this endpoint."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if policies.role(request.user) == policies.R.AUDITOR:
            return request.method in SAFE_METHODS
        return policies.has_role(request.user, getattr(view, "allowed_roles", ()))


class AuditorReadOnly(BasePermission):
    """Auditors may read every endpoint and write none (a default permission, and part of ``HasRole``)."""

    message = "Auditors have read-only access."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not getattr(request.user, "is_authenticated", False):
            return True
        return policies.role(request.user) != policies.R.AUDITOR
