"""OpenADR 3.1.0 VTN, mounted at ``/openadr3/3.1.0/`` beside 3.0.1 (ADR 0018).

The same views, rules and services as 3.0.1 (``activation.openadr``): a 3.1.0 view is the 3.0.1 view with
3.1.0 serialisation (``activation.openadr_v31``) on the way in and out, plus what only 3.1.0 has (OpenADR
3.1.0 OpenAPI definition, OpenADR Alliance, ``docs/openadr3/openadr3-3.1.0.yaml``):

* ``GET /auth/server``: the token endpoint's URL (``authServerInfo``); ``POST /auth/token`` answers the granted
  ``scope``; the scopes of a VEN client are ``read_all read_targets read_ven_objects write_reports
  write_subscriptions write_vens`` (asking for a BL scope is ``invalid_scope``). The BL authenticates with the
  platform's API token and holds the BL scopes (``read_bl``, ``write_programs``, ``write_events``...).
* top-level ``/resources`` and ``/resources/{id}`` (``venID`` in the body and as a filter);
* target strings, the ``targets`` filter on programs, events, VENs and resources, ``active`` on events (events
  that have not ended), ``event.duration``, ``reportDescriptor.reportIntervals``, ``clientID`` on reports,
  subscriptions, VENs and resources, subscriptions without a program (every program);
* notifiers: ``GET /notifiers`` (WEBHOOK and the MQTT binding) and the MQTT topic lists
  ``/notifiers/mqtt/topics/...``; what is published there: ``activation.services.openadr_notifiers``.
"""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from . import openadr as v301
from . import openadr_services as oadr
from . import openadr_v31
from .models import DREvent, OadrReport, OadrSubscription, Program, Ven, VenClient, VenResource
from .openadr_objects import resource_object
from .services import openadr_notifiers as notifiers

VEN_SCOPES = (
    "read_all",
    "read_targets",
    "read_ven_objects",
    "write_reports",
    "write_subscriptions",
    "write_vens",
)
_OWNER = {
    "REPORT": (OadrReport, "ven__client__client_id"),
    "SUBSCRIPTION": (OadrSubscription, "ven__client__client_id"),
    "VEN": (Ven, "client__client_id"),
    "RESOURCE": (VenResource, "ven__client__client_id"),
}


def _is_ven(request) -> bool:
    return isinstance(request.user, v301.VenPrincipal)


def _vens_visible(request):
    qs = Ven.objects.order_by("id")
    if _is_ven(request):
        ven = request.user.ven
        return qs.filter(pk=ven.pk) if ven else qs.none()
    return qs


def _one(qs, pk):
    try:
        return qs.get(pk=int(pk))
    except (ValueError, qs.model.DoesNotExist):
        raise v301.Problem(404, "Not Found", "No such object.") from None


class V31:
    """Mixin over a 3.0.1 view: 3.1.0 bodies in, 3.1.0 objects out, 3.1.0 filters on lists."""

    object_type = ""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT") and isinstance(request.data, dict) and self.object_type:
            program_id = None
            if self.object_type == "REPORT":
                event_id = str(request.data.get("eventID", ""))
                found = None
                if event_id.isdigit():
                    found = DREvent.objects.filter(pk=int(event_id)).values_list("program_id", flat=True).first()
                program_id = str(found) if found else "0"  # an unknown event is a 404 below
            request._full_data = openadr_v31.request_v301(self.object_type, request.data, program_id=program_id)

    def page(self, request, objects: list[dict]) -> Response:
        wanted = [t for t in request.query_params.getlist("targets") if t]
        if wanted:
            objects = [o for o in objects if openadr_v31.targets_match(wanted, o.get("targets"))]
        active = request.query_params.get("active", "").lower()
        if active not in ("", "true", "false"):
            raise v301.Problem(400, "Bad Request", "active: true or false.")
        if active == "true" and self.object_type == "EVENT":
            now = timezone.now()
            ended = {
                str(pk)
                for pk in DREvent.objects.filter(pk__in=[int(o["id"]) for o in objects], end__lte=now).values_list(
                    "pk", flat=True
                )
            }
            objects = [o for o in objects if o["id"] not in ended]
        return super().page(request, objects)

    def finalize_response(self, request, response, *args, **kwargs):
        data = getattr(response, "data", None)
        if self.object_type and 200 <= response.status_code < 300 and isinstance(data, dict | list):
            many = isinstance(data, list)
            objects = [o for o in (data if many else [data]) if isinstance(o, dict)]
            owners = {}
            if self.object_type in _OWNER and objects:
                model, field = _OWNER[self.object_type]
                ids = [int(o["id"]) for o in objects if str(o.get("id", "")).isdigit()]
                owners = {str(pk): cid for pk, cid in model.objects.filter(pk__in=ids).values_list("pk", field)}
            out = [openadr_v31.to_v31(self.object_type, o, client_id=owners.get(str(o.get("id")))) for o in objects]
            response.data = out if many else out[0]
        return super().finalize_response(request, response, *args, **kwargs)


class ProgramsApi(V31, v301.ProgramsApi):
    object_type = "PROGRAM"


class ProgramApi(V31, v301.ProgramApi):
    object_type = "PROGRAM"


class EventsApi(V31, v301.EventsApi):
    object_type = "EVENT"


class EventApi(V31, v301.EventApi):
    object_type = "EVENT"


class ReportsApi(V31, v301.ReportsApi):
    object_type = "REPORT"


class ReportApi(V31, v301.ReportApi):
    object_type = "REPORT"


class SubscriptionsApi(V31, v301.SubscriptionsApi):
    """3.1.0 subscriptions: ``programID`` is optional (without it: every program)."""

    object_type = "SUBSCRIPTION"

    def _save(self, request, sub, code):
        data = request.data if isinstance(request.data, dict) else {}
        if data.get("programID") not in (None, ""):
            return super()._save(request, sub, code)
        data = self.body(request, ["clientName", "objectOperations"])
        ops = data["objectOperations"]
        if not isinstance(ops, list) or not ops:
            raise v301.Problem(400, "Bad Request", "objectOperations: objects, operations, callbackUrl.")
        sub = oadr.subscription_save(
            subscription=sub,
            program=None,
            client_name=data["clientName"],
            object_operations=_checked_operations(ops),
            targets=data.get("targets"),
        )
        return Response(v301.subscription_object(sub), status=code)


def _checked_operations(ops: list) -> list:
    valid = {"PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"}
    for n, o in enumerate(ops):
        if not (
            isinstance(o, dict)
            and isinstance(o.get("callbackUrl"), str)
            and o["callbackUrl"].startswith(("http://", "https://"))
            and isinstance(o.get("objects"), list)
            and o["objects"]
            and set(o["objects"]) <= valid
            and isinstance(o.get("operations"), list)
            and o["operations"]
            and set(o["operations"]) <= {"READ", "CREATE", "UPDATE", "DELETE"}
        ):
            raise v301.Problem(400, "Bad Request", f"objectOperations/{n}: objects, operations, callbackUrl.")
    return ops


class SubscriptionApi(SubscriptionsApi, v301.SubscriptionApi):
    object_type = "SUBSCRIPTION"


class VensApi(V31, v301.VensApi):
    """3.1.0 ``POST /vens``: a VEN sends ``VEN_VEN_REQUEST`` (self-registration); the BL sends ``BL_VEN_REQUEST``
    with the ``clientID`` whose VEN this is (an unknown client id is provisioned without a secret: its
    credentials are issued out of band)."""

    object_type = "VEN"

    def post(self, request):
        client_id = request.data.get("clientID") if isinstance(request.data, dict) else None
        if _is_ven(request) or not client_id:
            return super().post(request)
        self.require_bl(request)
        data = self.body(request, ["venName"])
        client = VenClient.objects.filter(client_id=str(client_id)[:128]).first()
        if client is None:
            client = VenClient.objects.create(client_id=str(client_id)[:128], secret_hash="")
        ven = oadr.ven_create(
            ven_name=data["venName"], attributes=data.get("attributes"), targets=data.get("targets"), client=client
        )
        return Response(v301.ven_object(ven), status=status.HTTP_201_CREATED)


class VenApi(V31, v301.VenApi):
    object_type = "VEN"


class ResourcesApi(V31, v301.OadrView):
    """Top-level ``/resources`` (3.1.0): a VEN's own resources, every resource for the BL; filters ``venID``,
    ``resourceName``, ``targets``. ``POST`` names its VEN with ``venID``."""

    object_type = "RESOURCE"

    def get(self, request):
        qs = VenResource.objects.filter(ven__in=_vens_visible(request)).order_by("id")
        for param, field in (("venID", "ven_id"), ("resourceName", "resource_name")):
            value = request.query_params.get(param)
            if value:
                if field == "ven_id" and not value.isdigit():
                    return Response([])
                qs = qs.filter(**{field: value})
        return self.page(request, [resource_object(r) for r in qs])

    def post(self, request):
        data = self.body(request, ["resourceName", "venID"])
        ven = _one(_vens_visible(request), data["venID"])
        r = oadr.ven_resource_upsert(
            ven=ven, resource_name=data["resourceName"], attributes=data.get("attributes"), targets=data.get("targets")
        )
        return Response(resource_object(r), status=status.HTTP_201_CREATED)


class ResourceApi(V31, v301.OadrView):
    object_type = "RESOURCE"

    def _resource(self, request, pk) -> VenResource:
        return _one(VenResource.objects.filter(ven__in=_vens_visible(request)), pk)

    def get(self, request, pk):
        return Response(resource_object(self._resource(request, pk)))

    def put(self, request, pk):
        resource = self._resource(request, pk)
        data = self.body(request, ["resourceName"])
        if str(data.get("venID", resource.ven_id)) != str(resource.ven_id):
            raise v301.Problem(400, "Bad Request", "venID: a resource cannot move to another VEN.")
        r = oadr.ven_resource_upsert(
            ven=resource.ven,
            resource_name=data["resourceName"],
            attributes=data.get("attributes"),
            targets=data.get("targets"),
            resource=resource,
        )
        return Response(resource_object(r))

    def delete(self, request, pk):
        return Response(oadr.ven_resource_delete(resource=self._resource(request, pk)))


class AuthServerApi(v301.OadrView):
    """``GET /auth/server`` (no authentication): where to get a token."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        return Response({"tokenURL": request.build_absolute_uri("token")})


class TokenApi(v301.TokenApi):
    """``POST /auth/token`` with the 3.1.0 scopes: the requested ``scope`` (space-separated) must be among the
    VEN scopes (``invalid_scope`` otherwise, RFC 6749 §5.2); the response names the scopes granted."""

    def post(self, request):
        raw = request.data.get("scope") if hasattr(request.data, "get") else None
        asked = str(raw or "").split()
        if any(s not in VEN_SCOPES for s in asked):
            return Response({"error": "invalid_scope", "error_description": "A VEN client holds VEN scopes."}, 400)
        response = super().post(request)
        if response.status_code == 200:
            response.data["scope"] = " ".join(asked or VEN_SCOPES)
        return response


class NotifiersApi(v301.OadrView):
    """``GET /notifiers``: webhooks (subscriptions' callbackUrl) and the MQTT binding."""

    def get(self, request):
        return Response({"WEBHOOK": True, "MQTT": notifiers.mqtt_binding()})


class TopicsApi(v301.OadrView):
    """``GET /notifiers/mqtt/topics/...``: the topic names of one kind of object. ``scope`` is who may ask: the
    BL (``read_bl``), anyone (``read_all``) or the VEN for its own venID (``read_ven_objects``, 404 for another
    VEN's, as every VEN object)."""

    path = ""
    scope = "read_all"
    create = True

    def get(self, request, **ids):
        if self.scope == "read_bl":
            self.require_bl(request)
        if "venID" in ids:
            _one(_vens_visible(request), ids["venID"])
        if "programID" in ids:
            _one(Program.objects.all(), ids["programID"])
        topic_path = self.path.format(**ids)
        if self.path == "programs/{programID}/events" and _is_ven(request):
            ven = request.user.ven
            if ven is None:
                raise v301.Problem(403, "Forbidden", "Register this client's VEN first (POST /vens).")
            topic_path = f"vens/{ven.pk}/{topic_path}"  # only the events aimed at this VEN's resources
        return Response(notifiers.topics(topic_path, create=self.create))


def _topics(path_: str, scope: str, create: bool = True):
    return TopicsApi.as_view(path=path_, scope=scope, create=create)


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
    path("resources", ResourcesApi.as_view()),
    path("resources/<str:pk>", ResourceApi.as_view()),
    path("auth/server", AuthServerApi.as_view()),
    path("auth/token", TokenApi.as_view()),
    path("notifiers", NotifiersApi.as_view()),
    path("notifiers/mqtt/topics/programs", _topics("programs", "read_all")),
    path("notifiers/mqtt/topics/programs/<str:programID>", _topics("programs/{programID}", "read_all", False)),
    path("notifiers/mqtt/topics/events", _topics("events", "read_bl")),
    path("notifiers/mqtt/topics/programs/<str:programID>/events", _topics("programs/{programID}/events", "read_all")),
    path("notifiers/mqtt/topics/reports", _topics("reports", "read_bl")),
    path("notifiers/mqtt/topics/subscriptions", _topics("subscriptions", "read_bl")),
    path("notifiers/mqtt/topics/vens", _topics("vens", "read_bl")),
    path("notifiers/mqtt/topics/vens/<str:venID>", _topics("vens/{venID}", "read_ven_objects", False)),
    path("notifiers/mqtt/topics/resources", _topics("resources", "read_bl")),
    path("notifiers/mqtt/topics/vens/<str:venID>/events", _topics("vens/{venID}/events", "read_ven_objects")),
    path("notifiers/mqtt/topics/vens/<str:venID>/programs", _topics("vens/{venID}/programs", "read_ven_objects")),
    path("notifiers/mqtt/topics/vens/<str:venID>/resources", _topics("vens/{venID}/resources", "read_ven_objects")),
]
