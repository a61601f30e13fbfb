"""OpenADR 3.0.1 VTN: the specification's JSON objects and paths over the platform's programs and events.

Follows the OpenADR 3.0.1 OpenAPI definition (OpenADR Alliance, ``openadr3.yaml``): objects ``program``,
``event`` (intervalPeriod, intervals with payloads, payloadDescriptors, reportDescriptors, targets),
``report``, ``subscription``, ``ven``, ``resource``; search with ``skip``/``limit`` (max 50) and
``targetType``/``targetValues``; errors as ``problem``; ``POST /auth/token`` client-credentials grant; bearer
tokens. Mounted at ``/openadr3/3.0.1/``.

Who sees what: a VEN (bearer token from ``/auth/token``) reads every program, the events targeting the
resources it registered (resource attribute ``PREMISE_ID``), and its own reports and subscriptions. A grid
operator or admin (the spec's business logic, "BL", with the platform's API token) reads everything visible to
them and may create programs and events.

Event payloads: ``DISPATCH_SETPOINT_RELATIVE`` (kW, negative = reduce load below baseline) and ``SIMPLE``
(level 1 normal, 3 emergency). Event targets: ``RESOURCE_NAME`` (``premise-<id>``) and ``GROUP`` (grid zone
code).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.urls import path
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Membership, Premise
from accounts.selectors import user_role
from flexplatform.errors import ApplicationError

from . import services
from .models import DREvent, OadrReport, OadrSubscription, Program, Ven, VenResource
from .selectors import events_visible_to

MAX_LIMIT = 50


def _iso_duration(seconds: int) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s or not (h or m) else "")
    return out


def _dt(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _base(obj, object_type: str) -> dict:
    """The fields every OpenADR 3 object carries: id, creation and modification times, object type."""
    return {
        "id": str(obj.pk),
        "createdDateTime": _dt(obj.created_at),
        "modificationDateTime": _dt(obj.modified_at),
        "objectType": object_type,
    }


def program_object(p: Program) -> dict:
    return {
        **_base(p, "PROGRAM"),
        "programName": p.code,
        "programLongName": p.name,
        "programType": p.kind.upper(),
        "retailerName": None,
        "retailerLongName": None,
        "country": None,
        "principalSubdivision": None,
        "bindingEvents": True,
        "localPrice": False,
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DISPATCH_SETPOINT_RELATIVE",
                "units": "KW",
                "currency": None,
            },
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "SIMPLE", "units": None, "currency": None},
        ],
        "programDescriptions": None,
        "targets": None,
    }


def event_object(e: DREvent) -> dict:
    level = 3 if e.source == DREvent.Source.EMERGENCY else 1
    return {
        "id": str(e.pk),
        "createdDateTime": _dt(e.created_at),
        "modificationDateTime": _dt(
            e.cancelled_at or e.completed_at or e.activated_at or e.notified_at or e.created_at
        ),
        "objectType": "EVENT",
        "programID": str(e.program_id),
        "eventName": f"flex-event-{e.pk}",
        "priority": 0 if level == 3 else 1,
        "targets": [
            {"type": "RESOURCE_NAME", "values": [f"premise-{e.premise_id}"]},
            {"type": "GROUP", "values": [e.zone.code]},
        ],
        "reportDescriptors": [
            {
                "payloadType": "USAGE",
                "readingType": "DIRECT_READ",
                "units": "KWH",
                "targets": None,
                "aggregate": False,
                "startInterval": -1,
                "numIntervals": -1,
                "historical": True,
                "frequency": -1,
                "repeat": 1,
            }
        ],
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DISPATCH_SETPOINT_RELATIVE",
                "units": "KW",
                "currency": None,
            },
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "SIMPLE", "units": None, "currency": None},
        ],
        "intervalPeriod": {"start": _dt(e.start), "duration": _iso_duration((e.end - e.start).total_seconds())},
        "intervals": []
        if e.status == DREvent.Status.CANCELLED
        else [
            {
                "id": 0,
                "payloads": [
                    {"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-float(e.target_kw)]},
                    {"type": "SIMPLE", "values": [level]},
                ],
            }
        ],
    }


def report_object(r: OadrReport) -> dict:
    return {
        **_base(r, "REPORT"),
        "programID": str(r.program_id),
        "eventID": str(r.event_id),
        "clientName": r.client_name,
        "reportName": r.report_name,
        "payloadDescriptors": r.payload_descriptors,
        "resources": r.resources,
    }


def subscription_object(s: OadrSubscription) -> dict:
    return {
        **_base(s, "SUBSCRIPTION"),
        "clientName": s.client_name,
        "programID": str(s.program_id),
        "objectOperations": s.object_operations,
        "targets": s.targets,
    }


def resource_object(r: VenResource) -> dict:
    return {
        **_base(r, "RESOURCE"),
        "resourceName": r.resource_name,
        "venID": str(r.ven_id),
        "attributes": r.attributes,
        "targets": r.targets,
    }


def ven_object(v: Ven) -> dict:
    return {
        **_base(v, "VEN"),
        "venName": v.ven_name,
        "attributes": v.attributes,
        "targets": v.targets,
        "resources": [resource_object(r) for r in v.resources.all()],
    }


# --- auth -----------------------------------------------------------------------------------------------------


class VenPrincipal:
    is_authenticated = True
    is_superuser = False

    def __init__(self, ven: Ven):
        self.ven = ven


class VenBearerAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        ven = services.ven_for_token(header[7:].strip())
        if ven is None:
            raise AuthenticationFailed("Invalid or expired bearer token.")
        return VenPrincipal(ven), None

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
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            code, title = 401, "Unauthorized"
        elif isinstance(exc, ApplicationError):
            code, title = exc.status_code, exc.code
        elif isinstance(exc, APIException):
            code, title = exc.status_code, getattr(exc, "title", exc.default_code)
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

    def body(self, request, required: list[str]) -> dict:
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise Problem(400, "Bad Request", "The body must be a JSON object.")
        missing = [k for k in required if data.get(k) in (None, "", [])]
        if missing:
            raise Problem(400, "Bad Request", f"Missing: {', '.join(missing)}.")
        return data


def _ven(request) -> Ven | None:
    return request.user.ven if isinstance(request.user, VenPrincipal) else None


def _events_for(request) -> QuerySet[DREvent]:
    ven = _ven(request)
    qs = DREvent.objects.select_related("zone").filter(program__isnull=False)
    if ven is not None:
        premises = VenResource.objects.filter(ven=ven, premise__isnull=False).values_list("premise_id", flat=True)
        return qs.filter(premise_id__in=premises).order_by("start", "id")
    return events_visible_to(request.user).filter(program__isnull=False).order_by("start", "id")


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
        program = services.program_create(
            code=data["programName"][:64], name=data.get("programLongName") or data["programName"]
        )
        return Response(program_object(program), status=status.HTTP_201_CREATED)


class ProgramApi(OadrView):
    def get(self, request, pk):
        return Response(program_object(_get(Program.objects.all(), pk)))


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
        try:
            start = datetime.fromisoformat(data["intervalPeriod"]["start"].replace("Z", "+00:00"))
            duration = _parse_duration(data["intervalPeriod"]["duration"])
            kw = next(
                abs(v)
                for i in data["intervals"]
                for p in i["payloads"]
                if p["type"] == "DISPATCH_SETPOINT_RELATIVE"
                for v in p["values"]
            )
            name = next(v for t in data["targets"] if t["type"] == "RESOURCE_NAME" for v in t["values"])
            premise = Premise.objects.get(pk=int(str(name).removeprefix("premise-")))
        except (KeyError, TypeError, ValueError, StopIteration, Premise.DoesNotExist) as exc:
            raise Problem(400, "Bad Request", f"Unusable event: {exc!r}") from None
        from decimal import Decimal

        event = services.event_create(
            program=program,
            premise=premise,
            target_kw=Decimal(str(kw)),
            start=start,
            end=start + duration,
            created_by=request.user,
        )
        return Response(event_object(event), status=status.HTTP_201_CREATED)


def _parse_duration(value: str):
    import re
    from datetime import timedelta

    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", value or "")
    if not m:
        raise ValueError(f"duration {value!r}")
    d, h, mi, s = (float(x) if x else 0 for x in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


class EventApi(OadrView):
    def get(self, request, pk):
        return Response(event_object(_get(_events_for(request), pk)))


def _reports_for(request):
    ven = _ven(request)
    qs = OadrReport.objects.order_by("id")
    return qs.filter(ven=ven) if ven is not None else qs


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
        ven = _ven(request)
        if ven is None:
            raise Problem(403, "Forbidden", "Only VENs write reports.")
        data = self.body(request, ["programID", "eventID", "clientName", "resources"])
        event = _get(_events_for(request), data["eventID"])
        program = _get(Program.objects.all(), data["programID"])
        if not isinstance(data["resources"], list) or not all(
            isinstance(r, dict) and r.get("resourceName") and isinstance(r.get("intervals"), list)
            for r in data["resources"]
        ):
            raise Problem(400, "Bad Request", "resources: a list of {resourceName, intervals}.")
        report = services.oadr_report_create(
            ven=ven,
            program=program,
            event=event,
            client_name=data["clientName"],
            report_name=data.get("reportName"),
            payload_descriptors=data.get("payloadDescriptors"),
            resources=data["resources"],
            report=report,
        )
        return Response(report_object(report), status=status.HTTP_201_CREATED if report else 200)


class ReportApi(ReportsApi):
    def get(self, request, pk):
        return Response(report_object(_get(_reports_for(request), pk)))

    def put(self, request, pk):
        response = self._save(request, _get(_reports_for(request), pk))
        response.status_code = 200
        return response

    def delete(self, request, pk):
        report = _get(_reports_for(request), pk)
        out = report_object(report)
        report.delete()
        return Response(out)


def _subs_for(request):
    ven = _ven(request)
    qs = OadrSubscription.objects.order_by("id")
    return qs.filter(ven=ven) if ven is not None else qs


class SubscriptionsApi(OadrView):
    def get(self, request):
        qs = _subs_for(request)
        if request.query_params.get("programID", "").isdigit():
            qs = qs.filter(program_id=int(request.query_params["programID"]))
        return self.page(request, [subscription_object(s) for s in qs])

    def post(self, request):
        return self._save(request, OadrSubscription(ven=_ven(request)), status.HTTP_201_CREATED)

    def _save(self, request, sub, code):
        data = self.body(request, ["clientName", "programID", "objectOperations"])
        ops = data["objectOperations"]
        valid = {"PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"}
        if not isinstance(ops, list) or not all(
            isinstance(o, dict)
            and o.get("callbackUrl")
            and set(o.get("objects", [])) <= valid
            and o.get("objects")
            and set(o.get("operations", [])) <= {"READ", "CREATE", "UPDATE", "DELETE"}
            for o in ops
        ):
            raise Problem(400, "Bad Request", "objectOperations: objects, operations, callbackUrl.")
        sub.program = _get(Program.objects.all(), data["programID"])
        sub.client_name, sub.object_operations, sub.targets = data["clientName"], ops, data.get("targets")
        sub.save()
        return Response(subscription_object(sub), status=code)


class SubscriptionApi(SubscriptionsApi):
    def get(self, request, pk):
        return Response(subscription_object(_get(_subs_for(request), pk)))

    def put(self, request, pk):
        return self._save(request, _get(_subs_for(request), pk), 200)

    def delete(self, request, pk):
        sub = _get(_subs_for(request), pk)
        out = subscription_object(sub)
        sub.delete()
        return Response(out)


def _vens_for(request):
    ven = _ven(request)
    qs = Ven.objects.prefetch_related("resources").order_by("id")
    return qs.filter(pk=ven.pk) if ven is not None else qs


class VensApi(OadrView):
    def get(self, request):
        qs = _vens_for(request)
        if request.query_params.get("venName"):
            qs = qs.filter(ven_name=request.query_params["venName"])
        return self.page(request, [ven_object(v) for v in qs])


class VenApi(OadrView):
    def get(self, request, pk):
        return Response(ven_object(_get(_vens_for(request), pk)))


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
        r = services.ven_resource_upsert(
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
        r = services.ven_resource_upsert(
            ven=ven,
            resource_name=data["resourceName"],
            attributes=data.get("attributes"),
            targets=data.get("targets"),
            resource=resource,
        )
        return Response(resource_object(r))

    def delete(self, request, pk, rid):
        resource = _get(_get(_vens_for(request), pk).resources.all(), rid)
        out = resource_object(resource)
        resource.delete()
        return Response(out)


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
        issued = services.ven_token_issue(client_id=data["client_id"], client_secret=data["client_secret"])
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
