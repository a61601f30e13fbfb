"""MFA (TOTP through allauth's MFA app), required for grid-operator and admin accounts.

Portal: :class:`RequireMFAMiddleware` sends such a user who has no TOTP authenticator to the TOTP setup page
before anything else. API: the token endpoint asks these users for a current TOTP code (``otp``) besides the
password, and refuses them a token while they have no authenticator (accounts/api.py ``TokenApi``).
"""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.shortcuts import redirect
from django.urls import reverse

from .models import Membership
from .selectors import user_memberships, user_role

MFA_ROLES = (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)
# Paths a user without MFA may still reach: the MFA pages themselves, sign-out, static files.
EXEMPT_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/", "/static/", "/api/")


def mfa_required(user) -> bool:
    """Grid operators and admins (any membership, or a superuser) must use MFA."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or user_role(user) in MFA_ROLES or any(m.role in MFA_ROLES for m in user_memberships(user))


def totp_authenticator(user) -> Authenticator | None:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()


def totp_verify(user, code: str) -> bool:
    """Whether ``code`` is the user's current TOTP code (each code is accepted once)."""
    auth = totp_authenticator(user)
    return auth is not None and bool(code) and TOTP(auth).validate_code(code.strip())


def totp_activate(*, user, secret: str) -> Authenticator:
    """Give a user a TOTP authenticator with a known secret (the demo's published one); idempotent."""
    auth = totp_authenticator(user)
    if auth is not None:
        return auth
    return TOTP.activate(user, secret).instance


class RequireMFAMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(EXEMPT_PREFIXES):  # first: the API authenticates itself (token + TOTP)
            return self.get_response(request)
        user = getattr(request, "user", None)
        if mfa_required(user) and totp_authenticator(user) is None:
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class MFAAdapter(DefaultMFAAdapter):
    """allauth's adapter; kept as the hook for the platform's MFA policy."""
