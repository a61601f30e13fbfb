"""OpenADR 3.1.0 VTN, mounted at ``/openadr3/3.1.0/`` beside 3.0.1 (ADR 0022).

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
from . import openadr_spec, openadr_v31
from .models import DREvent, OadrEvent, OadrReport, OadrSubscription, Program, Ven, VenResource
from .openadr_http import OadrView, Problem, is_ven, ven_of
from .openadr_http import TokenApi as TokenApi301
from .openadr_objects import VTN_EVENT_PREFIX, resource_object, subscription_object, ven_object
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


REQUEST_SCHEMA = {
    "PROGRAM": "programRequest",
    "EVENT": "eventRequest",
    "REPORT": "reportRequest",
    "SUBSCRIPTION": "subscriptionRequest",
    "VEN": "venRequest",
    "RESOURCE": "resourceRequest",
}


def _vens_visible(request):
    qs = Ven.objects.order_by("id")
    if is_ven(request):
        ven = ven_of(request)
        return qs.filter(pk=ven.pk) if ven else qs.none()
    return qs


def _one(qs, pk):
    try:
        return qs.get(pk=int(pk))
    except (ValueError, qs.model.DoesNotExist):
        raise Problem(404, "Not Found", "No such object.") from None


def _subs_visible(request):
    qs = OadrSubscription.objects.order_by("id")
    if is_ven(request):
        ven = ven_of(request)
        return qs.filter(ven=ven) if ven else qs.none()
    return qs


def _event_program(event_id) -> str:
    """The programID of a report's event (a dispatched event's id, or a kept event's prefixed id); "0" for an
    event that does not exist, which the report view answers with 404."""
    event_id = str(event_id or "")
    found = None
    if event_id.isdigit():
        found = DREvent.objects.filter(pk=int(event_id)).values_list("program_id", flat=True).first()
    elif event_id.startswith(VTN_EVENT_PREFIX) and event_id[len(VTN_EVENT_PREFIX) :].isdigit():
        kept = OadrEvent.objects.filter(pk=int(event_id[len(VTN_EVENT_PREFIX) :]))
        found = kept.values_list("program_id", flat=True).first()
    return str(found) if found else "0"


class V31:
    """Mixin over a 3.0.1 view: 3.1.0 bodies in, 3.1.0 objects out, 3.1.0 filters on lists."""

    object_type = ""

    spec31: dict | None = None

    def initial(self, request, *args, **kwargs):
        """Checks a body against its 3.1.0 request schema (400 naming the field), keeps it as ``spec31`` and
        hands the 3.0.1 view its 3.0.1 form."""
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT") and self.object_type:
            self.spec31 = openadr_spec.validate("3.1.0", REQUEST_SCHEMA[self.object_type], request.data)
            program_id = _event_program(self.spec31.get("eventID")) if self.object_type == "REPORT" else None
            request._full_data = openadr_v31.request_v301(self.object_type, self.spec31, program_id=program_id)

    def page(self, request, objects: list) -> Response:
        """3.1.0 filters before the page: ``targets`` (an object matching one of the target strings) and, on
        events, ``active`` (leave out events that have ended)."""
        pairs = [o if isinstance(o, tuple) else (o, o.get("targets")) for o in objects]
        wanted = [t for t in request.query_params.getlist("targets") if t]
        if wanted:
            pairs = [(o, t) for o, t in pairs if openadr_v31.targets_match(wanted, t)]
        active = request.query_params.get("active", "").lower()
        if active not in ("", "true", "false"):
            raise Problem(400, "Bad Request", "active: true or false.")
        if active == "true" and self.object_type == "EVENT":
            now = timezone.now()
            pairs = [(o, t) for o, t in pairs if not _ended(o, now)]
        skip, limit = self.paging(request)  # 3.0.1's targetType/targetValues are not 3.1.0 parameters
        return Response([o for o, _ in pairs[skip : skip + limit]])

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


def _ended(event: dict, now) -> bool:
    """An event whose intervals all ended before ``now``: from its intervalPeriod, one duration per interval
    (a zero duration, "infinity" in the spec's user guide, never ends; an event without a period neither)."""
    period = event.get("intervalPeriod") or {}
    try:
        end = openadr_spec.parse_datetime(period.get("start"))
        value = period.get("duration") or event.get("duration")
        if openadr_spec.parse_duration(value).is_zero:
            return False
        for _ in range(min(max(len(event.get("intervals") or []), 1), 10000)):
            end = openadr_spec.add_duration(end, value)
    except (TypeError, ValueError, OverflowError):
        return False
    return end <= now


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
    """3.1.0 subscriptions: ``programID`` is optional (without it: every program); ``callbackUrl`` any URI (only
    http(s) callbacks are called: a VEN may listen on MQTT instead)."""

    object_type = "SUBSCRIPTION"

    def post(self, request):
        ven = self.require_ven(request) if is_ven(request) else None
        return self._save(OadrSubscription(ven=ven), status.HTTP_201_CREATED)

    def _save(self, sub: OadrSubscription, code: int) -> Response:
        spec = self.spec31
        program = _one(Program.objects.all(), spec["programID"]) if spec.get("programID") else None
        sub = oadr.subscription_save(
            subscription=sub,
            program=program,
            client_name=spec["clientName"],
            object_operations=spec["objectOperations"],
            targets=openadr_v31.targets_v301(spec.get("targets")),
        )
        return Response(subscription_object(sub), status=code)


class SubscriptionApi(V31, v301.SubscriptionApi):
    object_type = "SUBSCRIPTION"

    def put(self, request, pk):
        return SubscriptionsApi._save(self, _one(_subs_visible(request), pk), 200)


class VensApi(V31, v301.VensApi):
    """3.1.0 ``POST /vens``: a VEN sends ``VEN_VEN_REQUEST`` (self-registration); the BL sends ``BL_VEN_REQUEST``
    with the ``clientID`` whose VEN this is (an unknown client id is provisioned without a secret: its
    credentials are issued out of band)."""

    object_type = "VEN"

    def post(self, request):
        client_id = self.spec31.get("clientID")
        if is_ven(request) or not client_id:
            return super().post(request)
        self.require_bl(request)
        ven = oadr.ven_provision_for_client(
            client_id=client_id,
            ven_name=self.spec31["venName"],
            attributes=self.spec31.get("attributes"),
            targets=openadr_v31.targets_v301(self.spec31.get("targets")),
        )
        return Response(ven_object(ven), status=status.HTTP_201_CREATED)


class VenApi(V31, v301.VenApi):
    object_type = "VEN"


class ResourcesApi(V31, OadrView):
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
        spec = self.spec31
        ven = _one(_vens_visible(request), spec["venID"])
        r = oadr.ven_resource_upsert(
            ven=ven,
            resource_name=spec["resourceName"],
            attributes=spec.get("attributes"),
            targets=openadr_v31.targets_v301(spec.get("targets")),
        )
        return Response(resource_object(r), status=status.HTTP_201_CREATED)


class ResourceApi(V31, OadrView):
    object_type = "RESOURCE"

    def _resource(self, request, pk) -> VenResource:
        return _one(VenResource.objects.filter(ven__in=_vens_visible(request)), pk)

    def get(self, request, pk):
        return Response(resource_object(self._resource(request, pk)))

    def put(self, request, pk):
        """Name, attributes and targets; ``venID`` is the VTN's (a resource stays with its VEN)."""
        resource = self._resource(request, pk)
        spec = self.spec31
        r = oadr.ven_resource_upsert(
            ven=resource.ven,
            resource_name=spec["resourceName"],
            attributes=spec.get("attributes"),
            targets=openadr_v31.targets_v301(spec.get("targets")),
            resource=resource,
        )
        return Response(resource_object(r))

    def delete(self, request, pk):
        return Response(oadr.ven_resource_delete(resource=self._resource(request, pk)))


class AuthServerApi(OadrView):
    """``GET /auth/server`` (no authentication): where to get a token."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        return Response({"tokenURL": request.build_absolute_uri("token")})


class TokenApi(TokenApi301):
    """``POST /auth/token`` with the 3.1.0 VEN scopes (``read_targets`` and ``read_ven_objects`` are new)."""

    ven_scopes = VEN_SCOPES


class NotifiersApi(OadrView):
    """``GET /notifiers``: webhooks (subscriptions' callbackUrl) and the MQTT binding."""

    def get(self, request):
        return Response({"WEBHOOK": True, "MQTT": notifiers.mqtt_binding()})


class TopicsApi(OadrView):
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
        if self.path == "programs/{programID}/events" and is_ven(request):
            ven = ven_of(request)
            if ven is None:
                raise Problem(403, "Forbidden", "Register this client's VEN first (POST /vens).")
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
