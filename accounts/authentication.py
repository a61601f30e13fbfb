"""Token authentication for the REST API (``Authorization: Token <key>``), reading the user's memberships with
the token so every permission check (``accounts.policies``) answers without another query."""

from __future__ import annotations

import copy

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from flexplatform import snapshots

from .models import Membership

#: the token answers below are built from users, tokens and memberships: a save or delete of any renews them
AUTH_VERSION = "auth"
_auth_snapshots = snapshots.Snapshots(ttl_seconds=60.0)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (``Authorization: Token <key>``) that reads the user's memberships (roles and
    organisations, which every permission check needs) in the same query, and keeps the answer per process
    (``flexplatform.snapshots``) until a user, token, membership or organisation is saved or deleted, or a
    minute has passed: a deleted token or deactivated user is refused on the next request. A user without
    memberships (a bare superuser) goes the plain DRF way, uncached."""

    def authenticate_credentials(self, key):
        def load():
            return self._load(key), None

        (found,) = _auth_snapshots.get([snapshots.Request(("token", key), (AUTH_VERSION, snapshots.PARTIES), load)])
        if found is None:
            return super().authenticate_credentials(key)
        user, memberships = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        user = copy.copy(user)  # each request its own instance (a view may annotate it)
        user._memberships_cache = [copy.copy(m) for m in memberships]
        for m in user._memberships_cache:
            m.user = user
        return user, Token(key=key, user=user)

    @staticmethod
    def _load(key):

        memberships = list(
            Membership.objects.select_related("user", "organisation").filter(user__auth_token__key=key).order_by("pk")
        )
        if not memberships:
            return None
        return memberships[0].user, memberships


def auth_changed(sender, **kwargs) -> None:
    """Signal receiver (``accounts.apps``): a user, token or membership changed."""
    snapshots.invalidate(AUTH_VERSION)
