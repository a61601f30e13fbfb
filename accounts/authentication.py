"""Token authentication for the REST API (``Authorization: Token <key>``), reading the user's memberships with
the token so every permission check (``accounts.policies``) answers without another query. Tokens are
``accounts.models.ApiToken`` rows (``accounts.tokens``): refused once revoked, expired, or issued under a password
the owner has since changed."""

from __future__ import annotations

import copy

from django.db.models import F
from rest_framework import authentication, exceptions

from flexplatform import snapshots

from .models import ApiToken, Membership
from .tokens import digest_of, token_state

#: the token answers below are built from users, tokens and memberships: a save or delete of any renews them
AUTH_VERSION = "auth"
_auth_snapshots = snapshots.Snapshots(ttl_seconds=60.0)


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``: finds the token by its digest with its user and the user's memberships
    (roles and organisations, which every permission check needs) in one query, and keeps the answer per
    process (``flexplatform.snapshots``) until a user, token, membership or organisation is saved or deleted, or a
    minute has passed: a revoked token, changed password or deactivated user is refused on the next request."""

    def authenticate_credentials(self, key):
        def load():
            return self._load(key), None

        (found,) = _auth_snapshots.get([snapshots.Request(("token", key), (AUTH_VERSION, snapshots.PARTIES), load)])
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, memberships = found
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        state = token_state(token, user=user)
        if state != "live":
            raise exceptions.AuthenticationFailed(f"Token {state.replace('_', ' ')}: obtain a new one.")
        user = copy.copy(user)  # each request its own instance (a view may annotate it)
        user._memberships_cache = [copy.copy(m) for m in memberships]
        for m in user._memberships_cache:
            m.user = user
        token = copy.copy(token)
        token.user = user
        return user, token

    @staticmethod
    def _load(key):
        digest = digest_of(key)
        fields = [f.attname for f in ApiToken._meta.concrete_fields if f.attname != "user_id"]
        memberships = list(
            Membership.objects.select_related("user", "organisation")
            .filter(user__api_tokens__digest=digest)
            .annotate(**{f"token_{name}": F(f"user__api_tokens__{name}") for name in fields})
            .order_by("pk")
        )
        if not memberships:  # a user without memberships (a bare superuser): the token alone
            token = ApiToken.objects.select_related("user").filter(digest=digest).first()
            return None if token is None else (token, [])
        first = memberships[0]
        token = ApiToken(user_id=first.user_id, **{name: getattr(first, f"token_{name}") for name in fields})
        token.user = first.user
        return token, memberships


def auth_changed(sender, **kwargs) -> None:
    """Signal receiver (``accounts.apps``): a user, token or membership changed."""
    snapshots.invalidate(AUTH_VERSION)
