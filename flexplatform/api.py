"""Shared API plumbing: the ``Idempotency-Key`` header for POSTs that create things, pagination of list endpoints,
input validation helpers. Core: imports no app (roles and permissions live in ``accounts.policies`` /
``accounts.permissions``)."""

from __future__ import annotations

import hashlib
import json

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings

from flexplatform import inserts, transactions
from flexplatform.core.models import IdempotencyRecord
from flexplatform.errors import Conflict, error_response


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
    key = request.headers.get("Idempotency-Key")
    if not key:
        return handler()
    body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True, default=str).encode()).hexdigest()

    def replay():
        existing = IdempotencyRecord.objects.filter(user=request.user, scope=scope, key=key).first()
        if existing is None:
            return None
        if existing.request_hash != body_hash:
            return error_response(
                Conflict("This Idempotency-Key was used with another body.", code="idempotency_key_reused")
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


def paginated(
    request, items, serializer_class: type[serializers.Serializer], *, context: dict | None = None, rows=None
) -> Response:
    """A list endpoint's answer: one page of ``items`` (a queryset in a stable order, or a list) through the default
    pagination class (``flexplatform.pagination.Pagination``: ``?limit=&offset=``), as
    ``{"count", "next", "previous", "results"}``; describe it in the schema with :func:`list_schema`. ``rows`` turns
    the page's items into what the serializer reads (e.g. clearing runs into price rows), so only one page is loaded."""
    if isinstance(items, QuerySet) and not items.ordered:
        items = items.order_by("pk")  # pages must not overlap: a stable order
    paginator = api_settings.DEFAULT_PAGINATION_CLASS()
    page = paginator.paginate_queryset(items, request)
    if rows is not None:
        page = rows(page)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)


_paginated_schemas: dict[type, type[serializers.Serializer]] = {}


def paginated_schema(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The OpenAPI shape of :func:`paginated`'s answer for ``serializer_class`` (one component per item type)."""
    found = _paginated_schemas.get(serializer_class)
    if found is None:
        item = serializer_class.__qualname__.replace("Serializer", "").replace(".", "")
        found = type(
            f"Paginated{item}ListSerializer",
            (serializers.Serializer,),
            {
                "__module__": serializer_class.__module__,
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer_class(many=True),
                "paginated_list": True,
            },
        )
        _paginated_schemas[serializer_class] = found
    return found


PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Items per page (default 100, at most 1,000)."),
    OpenApiParameter("offset", int, description="Items to skip."),
]


def list_schema(serializer_class: type[serializers.Serializer], **kwargs):
    """``@extend_schema`` of a list endpoint answered by :func:`paginated`: the page shape and its parameters."""
    return extend_schema(
        responses=paginated_schema(serializer_class),
        parameters=[*PAGE_PARAMETERS, *kwargs.pop("parameters", [])],
        **kwargs,
    )


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
    """An input datetime that must carry its offset: a naive time is refused (400), never silently read as UTC."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError("Give a timezone (e.g. 2026-11-24T17:00:00Z).", code="naive_datetime")
        return super().enforce_timezone(value)
