"""Request guard: what no view should have to think about, refused once, before authentication and parsing.

* **NUL characters** in the path, a query parameter, a form field or a JSON string (PostgreSQL text cannot hold
  them; nothing legitimate sends them): 400 naming the field (``zone``, ``intervals[0].zone``).
* **Oversized bodies** (``Content-Length`` above ``DATA_UPLOAD_MAX_MEMORY_SIZE``, file uploads excepted; and
  Django's ``RequestDataTooBig`` wherever a body is read): 413.

Both answer in the one error shape (``flexplatform.errors``): ``{"code", "detail", "fields"}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

NUL_MESSAGE = "Null characters are not allowed."


def error_response(status: int, code: str, detail: str, fields: dict[str, list[str]] | None = None) -> HttpResponse:
    return JsonResponse({"code": code, "detail": detail, "fields": fields or {}}, status=status)


def too_large() -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(413, "too_large", f"The request body is larger than {limit} bytes.")


def nul_field(data: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in parsed JSON that holds a NUL character, else None."""
    if isinstance(data, str):
        return (path or "non_field_errors") if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return name
            found = nul_field(value, name)
            if found:
                return found
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found = nul_field(value, f"{path}[{i}]")
            if found:
                return found
    return None


#: APIs that answer in a published error shape of their own and refuse NUL characters themselves (the OpenADR 3
#: VTN: RFC 7807 ``problem`` bodies, ``activation/openadr_spec.py``): only the size limit applies here.
OWN_SHAPE_PREFIXES = ("/openadr3/",)


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return too_large()
        return None

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        own_shape = request.path.startswith(OWN_SHAPE_PREFIXES)
        if "\x00" in request.path and not own_shape:
            return self._nul("path")
        for key, values in request.GET.lists() if not own_shape else ():
            if "\x00" in key or any("\x00" in v for v in values):
                return self._nul(key)
        content_type = request.content_type or ""
        multipart = content_type.startswith("multipart/")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "invalid", "The Content-Length header is not a number.")
        if limit is not None and length > limit and not multipart:
            return too_large()
        if request.method in ("GET", "HEAD", "OPTIONS") or length == 0 or own_shape:
            return None
        try:
            if content_type == "application/json" or content_type.endswith("+json"):
                body = request.body
                if b"\\u0000" in body or b"\x00" in body:
                    try:
                        field = nul_field(json.loads(body))
                    except ValueError:
                        return None  # not JSON: the view's parser answers 400
                    if field:
                        return self._nul(field)
            elif multipart or content_type == "application/x-www-form-urlencoded":
                for key, values in request.POST.lists():
                    if "\x00" in key or any("\x00" in v for v in values):
                        return self._nul(key)
        except RequestDataTooBig:
            return too_large()
        return None

    @staticmethod
    def _nul(field: str) -> HttpResponse:
        return error_response(400, "invalid", "The request has invalid fields.", {field: [NUL_MESSAGE]})
