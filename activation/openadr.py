"""OpenADR 3.0.1 VTN: the specification's JSON objects and paths over the platform's programs and events.

Follows the OpenADR 3.0.1 OpenAPI definition (OpenADR Alliance, ``openadr3.yaml``): objects ``program``,
``event`` (intervalPeriod, intervals with payloads, payloadDescriptors, reportDescriptors, targets),
``report``, ``subscription``, ``ven``, ``resource``; search with ``skip``/``limit`` (max 50) and
``targetType``/``targetValues``; errors as ``problem``; ``POST /auth/token`` client-credentials grant; bearer
tokens. Mounted at ``/openadr3/3.0.1/``.

Who may do what (the spec's scopes): a VEN client (bearer token from ``/auth/token``) registers its own ``ven``
(``POST /vens``; the same venName again is a 409), then reads every program, the events targeting the resources
it registered (resource attribute ``PREMISE_ID``), and writes its own VEN object, resources, reports and
subscriptions; another VEN's objects are not found (404) for it. A grid operator or admin (the spec's business
logic, "BL", with the platform's API token) reads everything visible to them, writes programs and events, manages
VENs and their resources, and writes subscriptions; only VENs write reports (403 otherwise). Every create,
update and delete notifies the matching subscriptions through the outbox (``activation.openadr_services``).
``DELETE /events/{id}`` cancels the event: the VTN no longer lists it.

Event payloads: ``DISPATCH_SETPOINT_RELATIVE`` (kW, negative = reduce load below baseline) and ``SIMPLE``
(level 1 normal, 3 emergency). Event targets: ``RESOURCE_NAME`` (``premise-<id>``) and ``GROUP`` (grid zone
code).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import path
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import TokenAuthentication
from accounts.models import Membership, Premise
from accounts.selectors import premises_visible_to, user_role
from flexplatform.errors import ApplicationError

from . import openadr_services as oadr
from . import services
from .models import DREvent, OadrReport, OadrSubscription, Program, Ven, VenClient, VenResource
from .openadr_objects import (
    event_object,
    program_object,
    report_object,
    resource_object,
    subscription_object,
    ven_object,
)
from .selectors import events_visible_to

MAX_LIMIT = 50


# --- auth -----------------------------------------------------------------------------------------------------


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


def _is_bl(user) -> bool:
    return not isinstance(user, VenPrincipal) and user_role(user) in (
        Membership.Role.GRID_OPERATOR,
        Membership.Role.ADMIN,
    )


class VenOrBL(BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return isinstance(user, VenPrincipal) or _is_bl(user)


class Problem(APIException):
    def __init__(self, status_code: int, title: str, detail: str):
        self.status_code = status_code
        self.title = title
        super().__init__(detail)


class OadrView(APIView):
    authentication_classes = [VenBearerAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [VenOrBL]
    schema = None

    def handle_exception(self, exc):
        """Every error as the spec's ``problem`` (type, title, status, detail)."""
        from http import HTTPStatus

        from django.core.exceptions import ValidationError as DjangoValidationError

        if isinstance(exc, DjangoValidationError):
            exc = Problem(400, "Bad Request", "; ".join(exc.messages))
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
        response = Response(
            {"type": "about:blank", "title": str(title), "status": code, "detail": str(detail)}, status=code
        )
        if code == 401:
            response["WWW-Authenticate"] = "Bearer"
        return response

    # helpers
    def page(self, request, objects: list[dict]) -> Response:
        try:
            skip = int(request.query_params.get("skip", 0))
            limit = int(request.query_params.get("limit", MAX_LIMIT))
        except ValueError:
            raise Problem(400, "Bad Request", "skip and limit must be integers.") from None
        if skip < 0 or limit < 0 or limit > MAX_LIMIT:
            raise Problem(400, "Bad Request", f"skip >= 0 and 0 <= limit <= {MAX_LIMIT}.")
        target_type = request.query_params.get("targetType")
        values = request.query_params.getlist("targetValues")
        if target_type:
            objects = [
                o
                for o in objects
                if any(
                    t.get("type") == target_type and (not values or set(map(str, t.get("values", []))) & set(values))
                    for t in (o.get("targets") or [])
                )
            ]
        return Response(objects[skip : skip + limit])

    def require_bl(self, request):
        if not _is_bl(request.user):
            raise Problem(403, "Forbidden", "Only the business logic (grid operator or admin) may do this.")

    def require_ven(self, request) -> Ven:
        if not isinstance(request.user, VenPrincipal):
            raise Problem(403, "Forbidden", "Only VENs may do this.")
        if request.user.ven is None:
            raise Problem(403, "Forbidden", "Register this client's VEN first (POST /vens).")
        return request.user.ven

    def body(self, request, required: list[str]) -> dict:
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise Problem(400, "Bad Request", "The body must be a JSON object.")
        missing = [k for k in required if data.get(k) in (None, "", [])]
        if missing:
            raise Problem(400, "Bad Request", f"Missing: {', '.join(missing)}.")
        for key in ("attributes", "targets"):
            value = data.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, dict) and isinstance(v.get("type"), str) for v in value)
            ):
                raise Problem(400, "Bad Request", f"{key}: a list of valuesMap objects {{type, values}}.")
        for key in ("venName", "resourceName", "programName", "clientName"):
            if key in data and not (isinstance(data[key], str) and 1 <= len(data[key]) <= 128):
                raise Problem(400, "Bad Request", f"{key}: a string of 1 to 128 characters.")
        return data


def _is_ven(request) -> bool:
    return isinstance(request.user, VenPrincipal)


def _ven(request) -> Ven | None:
    return request.user.ven if _is_ven(request) else None


def _events_for(request) -> QuerySet[DREvent]:
    """Events the caller may read: a VEN those targeting its resources; cancelled (deleted) events are gone."""
    qs = DREvent.objects.select_related("zone").filter(program__isnull=False).exclude(status=DREvent.Status.CANCELLED)
    if _is_ven(request):
        ven = _ven(request)
        premises = VenResource.objects.filter(ven=ven, premise__isnull=False).values_list("premise_id", flat=True)
        return qs.filter(premise_id__in=premises).order_by("start", "id") if ven else qs.none()
    visible = events_visible_to(request.user).values("pk")
    return qs.filter(pk__in=visible).order_by("start", "id")


def _get(qs, pk):
    try:
        return qs.get(pk=int(pk))
    except (ValueError, qs.model.DoesNotExist):
        raise Problem(404, "Not Found", "No such object.") from None


class ProgramsApi(OadrView):
    def get(self, request):
        return self.page(request, [program_object(p) for p in Program.objects.order_by("id")])

    def post(self, request):
        self.require_bl(request)
        data = self.body(request, ["programName"])
        program = oadr.oadr_program_save(
            program=None, program_name=data["programName"], long_name=data.get("programLongName")
        )
        return Response(program_object(program), status=status.HTTP_201_CREATED)


class ProgramApi(OadrView):
    def get(self, request, pk):
        return Response(program_object(_get(Program.objects.all(), pk)))

    def put(self, request, pk):
        self.require_bl(request)
        program = _get(Program.objects.all(), pk)
        data = self.body(request, ["programName"])
        program = oadr.oadr_program_save(
            program=program, program_name=data["programName"], long_name=data.get("programLongName")
        )
        return Response(program_object(program))

    def delete(self, request, pk):
        self.require_bl(request)
        return Response(oadr.oadr_program_delete(program=_get(Program.objects.all(), pk)))


def _event_fields(data: dict, *, premises):
    """Window, target kW and premise of an OpenADR 3 event body (one DISPATCH_SETPOINT_RELATIVE interval, a
    RESOURCE_NAME target ``premise-<id>``)."""
    from decimal import Decimal

    from .openadr_reports import parse_datetime, parse_duration

    try:
        start = parse_datetime(data["intervalPeriod"]["start"])
        duration = parse_duration(data["intervalPeriod"]["duration"])
        kw = next(
            abs(v)
            for i in data["intervals"]
            for p in i["payloads"]
            if p["type"] == "DISPATCH_SETPOINT_RELATIVE"
            for v in p["values"]
        )
        name = next(v for t in data["targets"] if t["type"] == "RESOURCE_NAME" for v in t["values"])
        premise = premises.get(pk=int(str(name).removeprefix("premise-")))  # only within the caller's area
        target_kw = Decimal(str(kw))
    except (KeyError, TypeError, ValueError, ArithmeticError, StopIteration, Premise.DoesNotExist) as exc:
        raise Problem(400, "Bad Request", f"Unusable event: {exc!r}") from None
    return start, start + duration, target_kw, premise


class EventsApi(OadrView):
    def get(self, request):
        qs = _events_for(request)
        if request.query_params.get("programID"):
            qs = (
                qs.filter(program_id=int(request.query_params["programID"]))
                if request.query_params["programID"].isdigit()
                else qs.none()
            )
        return self.page(request, [event_object(e) for e in qs])

    def post(self, request):
        """BL creates an event: programID, intervalPeriod, one interval with DISPATCH_SETPOINT_RELATIVE, and a
        RESOURCE_NAME target ``premise-<id>`` (the platform's operator-event rules apply: notice, caps...)."""
        self.require_bl(request)
        data = self.body(request, ["programID", "intervals", "intervalPeriod", "targets"])
        program = _get(Program.objects.all(), data["programID"])
        start, end, target_kw, premise = _event_fields(data, premises=premises_visible_to(request.user))
        event = services.event_create(
            program=program, premise=premise, target_kw=target_kw, start=start, end=end, created_by=request.user
        )
        return Response(event_object(event), status=status.HTTP_201_CREATED)


class EventApi(OadrView):
    def get(self, request, pk):
        return Response(event_object(_get(_events_for(request), pk)))

    def put(self, request, pk):
        """BL revises the event's window and target before it starts; program and target resource are fixed."""
        self.require_bl(request)
        event = _get(_events_for(request), pk)
        data = self.body(request, ["programID", "intervals", "intervalPeriod", "targets"])
        start, end, target_kw, premise = _event_fields(data, premises=premises_visible_to(request.user))
        if str(data["programID"]) != str(event.program_id) or premise.pk != event.premise_id:
            raise Problem(400, "Bad Request", "programID and the RESOURCE_NAME target of an event cannot change.")
        event = oadr.oadr_event_update(event_id=event.pk, target_kw=target_kw, start=start, end=end)
        return Response(event_object(event))

    def delete(self, request, pk):
        self.require_bl(request)
        return Response(oadr.oadr_event_delete(event_id=_get(_events_for(request), pk).pk, user=request.user))


def _reports_for(request):
    qs = OadrReport.objects.order_by("id")
    if _is_ven(request):
        return qs.filter(ven=_ven(request)) if _ven(request) else qs.none()
    return qs.filter(event__in=events_visible_to(request.user).values("pk"))


class ReportsApi(OadrView):
    def get(self, request):
        qs = _reports_for(request)
        for param, field in (("programID", "program_id"), ("eventID", "event_id"), ("clientName", "client_name")):
            if request.query_params.get(param):
                value = request.query_params[param]
                if field != "client_name" and not value.isdigit():
                    return Response([])
                qs = qs.filter(**{field: value})
        return self.page(request, [report_object(r) for r in qs])

    def post(self, request):
        return self._save(request, None)

    def _save(self, request, report):
        ven = self.require_ven(request)
        data = self.body(request, ["programID", "eventID", "clientName", "resources"])
        event = _get(_events_for(request), data["eventID"])
        program = _get(Program.objects.all(), data["programID"])
        if not isinstance(data["resources"], list) or not all(
            isinstance(r, dict) and r.get("resourceName") and isinstance(r.get("intervals"), list)
            for r in data["resources"]
        ):
            raise Problem(400, "Bad Request", "resources: a list of {resourceName, intervals}.")
        saved = oadr.oadr_report_save(
            ven=ven,
            program=program,
            event=event,
            client_name=data["clientName"],
            report_name=data.get("reportName"),
            payload_descriptors=data.get("payloadDescriptors"),
            resources=data["resources"],
            report=report,
        )
        return Response(report_object(saved), status=status.HTTP_201_CREATED if report is None else 200)


class ReportApi(ReportsApi):
    def get(self, request, pk):
        return Response(report_object(_get(_reports_for(request), pk)))

    def put(self, request, pk):
        self.require_ven(request)
        return self._save(request, _get(_reports_for(request), pk))

    def delete(self, request, pk):
        self.require_ven(request)
        return Response(oadr.oadr_report_delete(report=_get(_reports_for(request), pk)))


def _subs_for(request):
    qs = OadrSubscription.objects.order_by("id")
    if _is_ven(request):
        return qs.filter(ven=_ven(request)) if _ven(request) else qs.none()
    return qs


class SubscriptionsApi(OadrView):
    def get(self, request):
        qs = _subs_for(request)
        if request.query_params.get("programID", "").isdigit():
            qs = qs.filter(program_id=int(request.query_params["programID"]))
        return self.page(request, [subscription_object(s) for s in qs])

    def post(self, request):
        ven = self.require_ven(request) if _is_ven(request) else None
        return self._save(request, OadrSubscription(ven=ven), status.HTTP_201_CREATED)

    def _save(self, request, sub, code):
        data = self.body(request, ["clientName", "programID", "objectOperations"])
        ops = data["objectOperations"]
        valid = {"PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"}
        if not isinstance(ops, list) or not all(
            isinstance(o, dict)
            and isinstance(o.get("callbackUrl"), str)
            and o["callbackUrl"].startswith(("http://", "https://"))
            and isinstance(o.get("objects"), list)
            and set(o["objects"]) <= valid
            and o["objects"]
            and isinstance(o.get("operations"), list)
            and o["operations"]
            and set(o["operations"]) <= {"READ", "CREATE", "UPDATE", "DELETE"}
            for o in ops
        ):
            raise Problem(400, "Bad Request", "objectOperations: objects, operations, callbackUrl.")
        sub = oadr.subscription_save(
            subscription=sub,
            program=_get(Program.objects.all(), data["programID"]),
            client_name=data["clientName"],
            object_operations=ops,
            targets=data.get("targets"),
        )
        return Response(subscription_object(sub), status=code)


class SubscriptionApi(SubscriptionsApi):
    def get(self, request, pk):
        return Response(subscription_object(_get(_subs_for(request), pk)))

    def put(self, request, pk):
        return self._save(request, _get(_subs_for(request), pk), 200)

    def delete(self, request, pk):
        return Response(oadr.subscription_delete(subscription=_get(_subs_for(request), pk)))


def _vens_for(request):
    qs = Ven.objects.prefetch_related("resources").order_by("id")
    if _is_ven(request):
        return qs.filter(pk=_ven(request).pk) if _ven(request) else qs.none()
    return qs


class VensApi(OadrView):
    def get(self, request):
        qs = _vens_for(request)
        if request.query_params.get("venName"):
            qs = qs.filter(ven_name=request.query_params["venName"])
        return self.page(request, [ven_object(v) for v in qs])

    def post(self, request):
        """A VEN client registers its own VEN (once; 409 for a taken venName or a second VEN); the BL may
        create a VEN object too (without credentials). Resources are added with ``POST /vens/{id}/resources``."""
        data = self.body(request, ["venName"])
        ven = oadr.ven_create(
            ven_name=data["venName"],
            attributes=data.get("attributes"),
            targets=data.get("targets"),
            client=request.user.client if _is_ven(request) else None,
        )
        return Response(ven_object(ven), status=status.HTTP_201_CREATED)


class VenApi(OadrView):
    def get(self, request, pk):
        return Response(ven_object(_get(_vens_for(request), pk)))

    def put(self, request, pk):
        ven = _get(_vens_for(request), pk)
        data = self.body(request, ["venName"])
        ven = oadr.ven_update(
            ven=ven, ven_name=data["venName"], attributes=data.get("attributes"), targets=data.get("targets")
        )
        return Response(ven_object(ven))

    def delete(self, request, pk):
        """The BL removes a VEN (with its resources and subscriptions); a VEN may not delete VENs."""
        ven = _get(_vens_for(request), pk)
        self.require_bl(request)
        return Response(oadr.ven_delete(ven=ven))


class ResourcesApi(OadrView):
    def get(self, request, pk):
        ven = _get(_vens_for(request), pk)
        qs = ven.resources.order_by("id")
        if request.query_params.get("resourceName"):
            qs = qs.filter(resource_name=request.query_params["resourceName"])
        return self.page(request, [resource_object(r) for r in qs])

    def post(self, request, pk):
        ven = _get(_vens_for(request), pk)
        data = self.body(request, ["resourceName"])
        r = oadr.ven_resource_upsert(
            ven=ven, resource_name=data["resourceName"], attributes=data.get("attributes"), targets=data.get("targets")
        )
        return Response(resource_object(r), status=status.HTTP_201_CREATED)


class ResourceApi(OadrView):
    def get(self, request, pk, rid):
        return Response(resource_object(_get(_get(_vens_for(request), pk).resources.all(), rid)))

    def put(self, request, pk, rid):
        ven = _get(_vens_for(request), pk)
        resource = _get(ven.resources.all(), rid)
        data = self.body(request, ["resourceName"])
        r = oadr.ven_resource_upsert(
            ven=ven,
            resource_name=data["resourceName"],
            attributes=data.get("attributes"),
            targets=data.get("targets"),
            resource=resource,
        )
        return Response(resource_object(r))

    def delete(self, request, pk, rid):
        resource = _get(_get(_vens_for(request), pk).resources.all(), rid)
        return Response(oadr.ven_resource_delete(resource=resource))


class TokenApi(APIView):
    """``POST /auth/token``: OAuth 2 client credentials (form-encoded), answers ``clientCredentialResponse``."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None

    def post(self, request):
        data = request.data
        if data.get("grant_type") != "client_credentials":
            return Response({"error": "unsupported_grant_type"}, status=400)
        if not data.get("client_id") or not data.get("client_secret"):
            return Response({"error": "invalid_request"}, status=400)
        issued = oadr.ven_token_issue(client_id=data["client_id"], client_secret=data["client_secret"])
        if issued is None:
            return Response({"error": "invalid_client"}, status=401)
        token, ttl = issued
        return Response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


urlpatterns = [
    path("programs", ProgramsApi.as_view()),
    path("programs/<str:pk>", ProgramApi.as_view()),
    path("events", EventsApi.as_view()),
    path("events/<str:pk>", EventApi.as_view()),
    path("reports", ReportsApi.as_view()),
    path("reports/<str:pk>", ReportApi.as_view()),
    path("subscriptions", SubscriptionsApi.as_view()),
    path("subscriptions/<str:pk>", SubscriptionApi.as_view()),
    path("vens", VensApi.as_view()),
    path("vens/<str:pk>", VenApi.as_view()),
    path("vens/<str:pk>/resources", ResourcesApi.as_view()),
    path("vens/<str:pk>/resources/<str:rid>", ResourceApi.as_view()),
    path("auth/token", TokenApi.as_view()),
]
