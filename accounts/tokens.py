"""API tokens: issue, rotate, revoke, list, and check a presented key.

A key is 40 random URL-safe characters (240 bits) shown once; the database keeps its SHA-256 digest, so a leaked
table holds no usable key. A token is valid while it is neither revoked nor expired (``API_TOKEN_TTL_DAYS``) and
its owner's password is the one it was issued under. Source: OWASP REST Security and Session Management cheat
sheets (expiry, revocation, renewal on credential change).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from flexplatform.errors import NotFound

from .errors import AccountsError
from .models import ApiToken

KEY_BYTES = 30


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _stamp(user) -> str:
    return user.get_session_auth_hash()


def api_token_issue(*, user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the key (shown once, never stored)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        digest=digest_of(key),
        prefix=key[:8],
        password_stamp=_stamp(user),
        created_at=now,
        expires_at=now + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    return token, key


def _own_live(user, token_id: int) -> ApiToken:
    token = (
        ApiToken.objects.select_for_update()
        .filter(pk=token_id, user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None:
        raise NotFound("No such live token of yours.", code=AccountsError.TOKEN_NOT_FOUND)
    return token


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> ApiToken:
    """Revoke one of the user's own live tokens; it is refused from the next request on."""
    token = _own_live(user, token_id)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def api_token_rotate(*, user, token_id: int) -> tuple[ApiToken, str]:
    """Replace one of the user's own live tokens with a new one (same name, a fresh lifetime); the old one is
    revoked in the same transaction. Returns the new row and its key."""
    old = _own_live(user, token_id)
    old.revoked_at = timezone.now()
    old.save(update_fields=["revoked_at"])
    return api_token_issue(user=user, name=old.name)


def api_tokens_of(user) -> QuerySet[ApiToken]:
    """The user's tokens, newest first (live, expired and revoked)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def token_state(token: ApiToken, *, user=None) -> str:
    """``live``, ``revoked``, ``expired`` or ``password_changed``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= timezone.now():
        return "expired"
    owner = user if user is not None else token.user
    if token.password_stamp != _stamp(owner):
        return "password_changed"
    return "live"
