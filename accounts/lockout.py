"""Brute-force protection shared by every way to sign in: the portal's sign-in page (allauth), its TOTP step,
the API token endpoint and the TOTP code sent there.

django-axes counts failures per account (the email, lower-cased) and per client address in the database; after
``AXES_FAILURE_LIMIT`` failures (10 by default, ``AUTH_LOCKOUT_FAILURES``) either one is locked for the cool-off
(``AUTH_LOCKOUT_COOLOFF_HOURS``), whichever entry point the failures came through. A wrong TOTP code counts as a
failure like a wrong password. Source: OWASP Authentication Cheat Sheet ("Protect against automated attacks"),
NIST SP 800-63B §5.2.2 (rate limiting: at most 100 consecutive failures per account).
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest


def username_of(request, credentials: dict | None) -> str:
    """The account an attempt is for (``AXES_USERNAME_CALLABLE``): the email, lower-cased, from the credentials
    the backends were given (allauth passes ``email``, the API ``username``) or the sign-in form."""
    credentials = credentials or {}
    name = credentials.get("email") or credentials.get("username") or credentials.get("login")
    if not name and request is not None and getattr(request, "method", "") == "POST":
        name = request.POST.get("login") or request.POST.get("username") or ""
    return str(name or "").strip().lower()


def _credentials(username: str) -> dict:
    return {"username": (username or "").strip().lower()}


def is_locked(request: HttpRequest, username: str) -> bool:
    """Whether the account or the client address is locked out."""
    return AxesProxyHandler.is_locked(request, _credentials(username))


def failure_record(request: HttpRequest, username: str) -> None:
    """Count one failed attempt (a wrong TOTP code after a right password) for the account and the address, as
    Django's ``authenticate`` does for a wrong password."""
    user_login_failed.send(sender=__name__, credentials=_credentials(username), request=request)


def mfa_failed(sender, request=None, user=None, **kwargs) -> None:
    """allauth's ``authentication_failed`` signal (a wrong TOTP code on the portal's sign-in step): counted like a
    wrong password. Connected in ``accounts.apps``."""
    if request is not None and user is not None:
        failure_record(request, user.email or user.get_username())


def client_ip(request) -> str | None:
    """The client's address (``AXES_CLIENT_IP_CALLABLE``): ``REMOTE_ADDR``, or behind ``AUTH_TRUSTED_PROXY_COUNT``
    reverse proxies the address the outermost of them saw (the N-th ``X-Forwarded-For`` entry from the right;
    entries further left are the client's own claim and never trusted). DRF's throttles count the same way
    (``NUM_PROXIES``)."""
    from django.conf import settings

    proxies = settings.AUTH_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR")
