"""Shared API helpers: role permissions and the ``Idempotency-Key`` header for POSTs that create orders."""

from __future__ import annotations

import copy
import hashlib
import json

from django.utils import timezone
from rest_framework import authentication, exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from accounts.selectors import user_organisations, user_role
from flexplatform import inserts, plausible, snapshots, transactions

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
        from accounts.models import Membership

        memberships = list(
            Membership.objects.select_related("user", "organisation").filter(user__auth_token__key=key).order_by("pk")
        )
        if not memberships:
            return None
        return memberships[0].user, memberships


def auth_changed(sender, **kwargs) -> None:
    """Signal receiver (``accounts.apps``): a user, token or membership changed."""
    snapshots.invalidate(AUTH_VERSION)


class HasRole(BasePermission):
    """Grants access to users whose portal role is one of ``roles`` (set on the view as ``allowed_roles``)."""

    message = "Your role may not use this endpoint."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        role = user_role(request.user)
        if role == "auditor":  # auditors read everything and write nothing
            return request.method in SAFE_METHODS
        return role in getattr(view, "allowed_roles", ())


class AuditorReadOnly(BasePermission):
    """Auditors may read every endpoint and write none (a default permission, and part of ``HasRole``)."""

    message = "Auditors have read-only access."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not getattr(request.user, "is_authenticated", False):
            return True
        return user_role(request.user) != "auditor"


def acting_organisation(user, role: str):
    orgs = user_organisations(user, role=role)
    return orgs[0] if orgs else None


def idempotent_post(request, scope: str, handler, *, look_first: bool = True) -> Response:
    """Run ``handler()`` once per (user, scope, Idempotency-Key); a repeat returns the first response.

    Semantics as Stripe documents them: the same key with a different body is refused (409). The record is
    written in the handler's transaction, so the first response and what it created commit together. A
    repeat is answered from the record without running the handler (one indexed look-up: a repeated
    settlement run or emergency call is not executed again). Two requests with the same key at the same
    moment both pass the look-up; the second then fails to write the record (unique key; it waits for the
    first), rolls back everything it did and answers with the first response, even if its own run failed.

    ``look_first=False`` skips the look-up for handlers whose every effect is in the transaction (an order:
    its trades, awards and the tasks it enqueues on commit): a repeat runs, fails to write the record and is
    rolled back, and the first response is returned. One statement fewer for every first request.
    """
    from accounts.models import IdempotencyRecord

    key = request.headers.get("Idempotency-Key")
    if not key:
        return handler()
    body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True, default=str).encode()).hexdigest()

    def replay():
        existing = IdempotencyRecord.objects.filter(user=request.user, scope=scope, key=key).first()
        if existing is None:
            return None
        if existing.request_hash != body_hash:
            return Response(
                {
                    "code": "idempotency_key_reused",
                    "detail": "This Idempotency-Key was used with another body.",
                    "fields": {},
                },
                status=409,
            )
        return Response(existing.response_body, status=existing.response_status)

    if look_first:
        stored = replay()
        if stored is not None:
            return stored
    try:
        with transactions.whole_transaction():  # left on any error: the services inside need no savepoints
            response = handler()
            if response.status_code < 500:
                record = IdempotencyRecord(
                    user=request.user,
                    scope=scope,
                    key=key,
                    request_hash=body_hash,
                    response_status=response.status_code,
                    response_body=response.data,
                )
                inserts.insert([record])  # a repeat's fails here (unique key) and rolls back with its work
    except Exception:
        stored = replay()  # a repeat: the first response stands, whatever this run said
        if stored is None:
            raise
        return stored
    return response


_bound_serializers: dict[type, serializers.Serializer] = {}


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """What ``serializer_class(data=data).is_valid(raise_exception=True)`` validates, and the same
    ``ValidationError`` (field by field) when it fails, with the serializer's fields built once per process.

    DRF deep-copies every declared field each time a serializer is made, a tenth of an order's CPU on the order
    endpoint. Validation itself keeps no state on the serializer or its fields, so one bound instance serves
    every request. Only for input serializers without context-dependent fields (no ``queryset`` fields, no
    ``request`` in the context)."""
    bound = _bound_serializers.get(serializer_class)
    if bound is None:
        bound = serializer_class()
        bound.fields  # noqa: B018 - bind the fields once
        _bound_serializers[serializer_class] = bound
    return bound.run_validation(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An input datetime that must carry its offset: a naive time is refused (400), never silently read as UTC;
    and it must lie in the plausible date window (``flexplatform.plausible``)."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError("Give a timezone (e.g. 2026-11-24T17:00:00Z).", code="naive_datetime")
        if not plausible.is_plausible(value):
            raise serializers.ValidationError(plausible.window_message(), code="implausible_date")
        return super().enforce_timezone(value)


class PlausibleDateField(serializers.DateField):
    """An input date in the plausible date window (``flexplatform.plausible``)."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not plausible.is_plausible(day):
            raise serializers.ValidationError(plausible.window_message(), code="implausible_date")
        return day
