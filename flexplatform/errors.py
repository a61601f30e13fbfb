"""One error model for the whole platform.

Services raise :class:`ApplicationError` (or a subclass) with a machine-readable ``code``;
the DRF exception handler turns it, and every DRF error, into::

    {"code": "...", "detail": "...", "fields": {"field": ["message", ...]}}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class ApplicationError(Exception):
    """A refusal by a service: bad input, wrong state, missing right."""

    code = "invalid"
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.fields = fields or {}


class NotPermitted(ApplicationError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN


class NotFound(ApplicationError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(ApplicationError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT


def _flatten(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list):
                out[key] = [str(v) for v in value]
            else:
                out[key] = [str(value)]
        return out
    if isinstance(data, list):
        return {"non_field_errors": [str(v) for v in data]}
    return {}


def error_response(exc: ApplicationError) -> Response:
    """The response for a refusal answered without raising (e.g. a replayed ``Idempotency-Key``): the one shape."""
    return Response({"code": exc.code, "detail": exc.detail, "fields": exc.fields}, status=exc.status_code)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler producing the one error format."""
    # DRF's views module reads the default permission classes when imported, and those (accounts.permissions)
    # raise this module's errors: imported here, not at the top, so either side may load first
    from rest_framework.views import exception_handler

    if isinstance(exc, ApplicationError):
        return error_response(exc)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": "The request has invalid fields.",
            "fields": _flatten(exc.detail),
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = {
            "code": code if isinstance(code, str) else "error",
            "detail": str(detail),
            "fields": {},
        }
    return response
