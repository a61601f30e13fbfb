"""The OpenADR 3 VTN's HTTP plumbing, shared by its versions: bearer tokens for VEN clients, the roles (VEN or
business logic), the spec's ``problem`` error body, paging and target filters, and ``POST /auth/token``.

``/auth/token`` is the OAuth 2 client-credentials grant (RFC 6749 §4.4) with both client authentication methods
of RFC 6749 §2.3.1: HTTP Basic (``client_secret_basic``, which the authorization server MUST support; id and
secret form-urlencoded before base64) and the credentials in the form body (``client_secret_post``); using both
at once is refused (§2.3: "MUST NOT use more than one authentication method in each request"). Errors are
RFC 6749 §5.2 bodies (``invalid_request``, ``invalid_client``, ``unsupported_grant_type``, ``invalid_scope``);
an unknown client is 401 with a ``WWW-Authenticate`` challenge for the scheme it tried. Answers carry
``Cache-Control: no-store`` (§5.1).
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from urllib.parse import unquote_plus

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    MethodNotAllowed,
    NotAuthenticated,
)
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import TokenAuthentication
from accounts.models import Membership
from accounts.selectors import user_role
from flexplatform.errors import ApplicationError

from . import openadr_services as oadr
from . import openadr_spec
from .models import Ven, VenClient

MAX_LIMIT = 50
# The 3.0.1 spec's scopes (components/securitySchemes); a VEN client is granted the VEN's.
VEN_SCOPES = ("read_all", "write_reports", "write_subscriptions", "write_vens")
# The business logic's scopes (3.1.0 adds read_bl): refused to a VEN client.
BL_SCOPES = ("write_programs", "write_events", "read_bl")
SCOPES = (*VEN_SCOPES, *BL_SCOPES)


class VenPrincipal:
    """A VEN client authenticated by its bearer token; ``ven`` is None until it has registered its VEN."""

    is_authenticated = True
    is_superuser = False

    def __init__(self, client: VenClient):
        self.client = client
        self.ven = Ven.objects.filter(client=client).first()


class VenBearerAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        client = oadr.ven_client_for_token(header[7:].strip())
        if client is None:
            raise AuthenticationFailed("Invalid or expired bearer token.")
        return VenPrincipal(client), None

    def authenticate_header(self, request):
        return "Bearer"


def is_bl(user) -> bool:
    """The spec's business logic: a grid operator or an admin of the platform."""
    return not isinstance(user, VenPrincipal) and user_role(user) in (
        Membership.Role.GRID_OPERATOR,
        Membership.Role.ADMIN,
    )


def is_ven(request) -> bool:
    return isinstance(request.user, VenPrincipal)


def ven_of(request) -> Ven | None:
    return request.user.ven if is_ven(request) else None


class VenOrBL(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, VenPrincipal) or is_bl(request.user)


class Problem(APIException):
    def __init__(self, status_code: int, title: str, detail: str):
        self.status_code = status_code
        self.title = title
        super().__init__(detail)


def problem_response(code: int, detail: str, title: str | None = None) -> Response:
    title = title or HTTPStatus(code).phrase
    return Response({"type": "about:blank", "title": title, "status": code, "detail": detail}, status=code)


class OadrView(APIView):
    """Base of every VTN view: authentication and roles, errors as ``problem``, bodies checked against the spec
    (``version``), paging and target filters."""

    version = "3.0.1"
    authentication_classes = [VenBearerAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [VenOrBL]
    schema = None

    def handle_exception(self, exc):
        """Every error as the spec's ``problem`` (type, title, status, detail)."""
        if isinstance(exc, DjangoValidationError):
            exc = Problem(400, "Bad Request", "; ".join(exc.messages))
        if isinstance(exc, openadr_spec.SpecError):
            exc = Problem(400, "Bad Request", str(exc))
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            code, title = 401, "Unauthorized"
        elif isinstance(exc, ApplicationError):
            code, title = exc.status_code, HTTPStatus(exc.status_code).phrase
        elif isinstance(exc, APIException):
            code, title = exc.status_code, getattr(exc, "title", None) or HTTPStatus(exc.status_code).phrase
        else:
            return super().handle_exception(exc)
        detail = exc.detail if isinstance(exc, ApplicationError) else str(exc.detail)
        if isinstance(exc, ApplicationError) and exc.fields:
            detail = f"{detail} {exc.fields}"
        response = problem_response(code, str(detail), str(title))
        if code == 401:
            response["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, MethodNotAllowed):
            response["Allow"] = ", ".join(self.allowed_methods)
        return response

    def paging(self, request) -> tuple[int, int]:
        try:
            skip = int(request.query_params.get("skip", 0))
            limit = int(request.query_params.get("limit", MAX_LIMIT))
        except ValueError:
            raise Problem(400, "Bad Request", "skip and limit must be integers.") from None
        if skip < 0 or limit < 0 or limit > MAX_LIMIT:
            raise Problem(400, "Bad Request", f"skip >= 0 and 0 <= limit <= {MAX_LIMIT}.")
        return skip, limit

    def page(self, request, objects: list) -> Response:
        """A page of spec objects, filtered by ``targetType``/``targetValues`` (an object matches when one of its
        targets has that type and, if values are given, one of them). An item may be ``(object, targets)`` to
        filter on other targets than the object shows (a dispatched event's premise and zone)."""
        skip, limit = self.paging(request)
        pairs = [o if isinstance(o, tuple) else (o, o.get("targets")) for o in objects]
        target_type = request.query_params.get("targetType")
        values = set(request.query_params.getlist("targetValues"))
        if target_type:
            pairs = [
                (o, targets)
                for o, targets in pairs
                if any(
                    isinstance(t, dict)
                    and t.get("type") == target_type
                    and (not values or {str(v) for v in t.get("values") or []} & values)
                    for t in targets or []
                )
            ]
        return Response([o for o, _ in pairs[skip : skip + limit]])

    def require_bl(self, request):
        if not is_bl(request.user):
            raise Problem(403, "Forbidden", "Only the business logic (grid operator or admin) may do this.")

    def require_ven(self, request) -> Ven:
        if not isinstance(request.user, VenPrincipal):
            raise Problem(403, "Forbidden", "Only VENs may do this.")
        if request.user.ven is None:
            raise Problem(403, "Forbidden", "Register this client's VEN first (POST /vens).")
        return request.user.ven

    def body(self, request, schema_name: str) -> dict:
        """The request body as the spec object ``schema_name`` (validated; VTN-provisioned fields dropped)."""
        return openadr_spec.validate(self.version, schema_name, request.data)


class TokenApi(APIView):
    """``POST /auth/token``: OAuth 2 client credentials, client_secret_basic or client_secret_post."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None
    ven_scopes = VEN_SCOPES  # what a VEN client may ask for (3.1.0 adds read_targets, read_ven_objects)

    @staticmethod
    def _error(error: str, description: str, code: int = 400, challenge: str | None = None) -> Response:
        response = Response({"error": error, "error_description": description}, status=code)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        if challenge:
            response["WWW-Authenticate"] = f'{challenge} realm="openadr3", error="{error}"'
        return response

    def handle_exception(self, exc):
        if isinstance(exc, MethodNotAllowed):
            response = problem_response(405, str(exc.detail))
            response["Allow"] = "POST, OPTIONS"
            return response
        if isinstance(exc, APIException):  # unparseable body, unsupported media type
            return self._error("invalid_request", str(exc.detail))
        return super().handle_exception(exc)

    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        header = request.headers.get("Authorization", "")
        basic = header[:6].lower() == "basic "
        if basic:
            try:
                raw = base64.b64decode(header[6:].strip(), validate=True).decode()
                client_id, client_secret = (unquote_plus(part) for part in raw.split(":", 1))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return self._error("invalid_client", "Malformed Basic credentials.", 401, "Basic")
            if data.get("client_secret"):
                return self._error("invalid_request", "Use one client authentication method, not two.")
            if data.get("client_id") and data.get("client_id") != client_id:
                return self._error("invalid_request", "client_id differs from the Basic credentials.")
        else:
            client_id, client_secret = data.get("client_id"), data.get("client_secret")
        grant = data.get("grant_type")
        if not grant:
            return self._error("invalid_request", "grant_type is required.")
        if grant != "client_credentials":
            return self._error("unsupported_grant_type", "Only client_credentials is supported.")
        if not client_id or not client_secret:
            return self._error("invalid_request", "Client credentials are required (Basic or in the body).")
        if "\x00" in f"{client_id}{client_secret}":
            return self._error("invalid_client", "Unknown client or wrong secret.", 401, "Basic")
        # RFC 6749 §3.3: scopes the server does not know are ignored; the business logic's are refused to a VEN.
        requested = str(data.get("scope") or "").split()
        refused = [s for s in requested if s in BL_SCOPES and s not in self.ven_scopes]
        if refused:
            return self._error("invalid_scope", f"Not granted to a VEN: {' '.join(refused)}.")
        requested = [s for s in requested if s in self.ven_scopes]
        issued = oadr.ven_token_issue(client_id=str(client_id), client_secret=str(client_secret))
        if issued is None:
            return self._error("invalid_client", "Unknown client or wrong secret.", 401, "Basic")
        token, ttl = issued
        response = Response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": " ".join(requested or self.ven_scopes),
            },
            status=status.HTTP_200_OK,
        )
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response
