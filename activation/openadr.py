"""OpenADR 3.0.1 VTN: the specification's JSON objects and paths over the platform's programs and events.

Follows the OpenADR 3.0.1 OpenAPI definition (OpenADR Alliance, ``docs/openadr3/openadr3-3.0.1.yaml``): objects
``program``, ``event``, ``report``, ``subscription``, ``ven``, ``resource``, each body validated against the
spec's schema (400 ``problem`` naming the field, ``activation.openadr_spec``) and kept whole, so every field the
spec defines comes back as it was given; search with ``skip``/``limit`` (max 50) and the filters each path
declares (``programID``, ``eventID``, ``clientName``, ``venName``, ``resourceName``, ``objects``,
``targetType``/``targetValues``); errors as ``problem``; methods a path does not declare are 405;
``POST /auth/token`` (``activation.openadr_http``). Mounted at ``/openadr3/3.0.1/``.

Who may do what (the spec's scopes): a VEN client (bearer token from ``/auth/token``) registers its own ``ven``
(``POST /vens``; the same venName again is a 409), then reads every program, the events that reach it
(``activation.openadr_events``: dispatched events for its resources' premises, kept events of the programs it is
enrolled in that target it), and writes its own VEN object, resources, reports and subscriptions; another VEN's
objects are not found (404) for it. A grid operator or admin (the spec's business logic, "BL", with the
platform's API token) reads everything visible to them, writes programs and events, manages VENs and their
resources, and writes subscriptions; only VENs write reports (403 otherwise), also on an event cancelled since.
Every create, update and delete notifies the matching subscriptions through the outbox.
``DELETE /events/{id}`` cancels the event: the VTN no longer lists it.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.urls import path
from rest_framework import status
from rest_framework.response import Response

from accounts.selectors import premises_visible_to

from . import openadr_events as events_oadr
from . import openadr_services as oadr
from . import services
from .models import DREvent, OadrEvent, OadrReport, OadrSubscription, Program, Ven
from .openadr_http import OadrView, Problem, TokenApi, is_ven, ven_of
from .openadr_objects import (
    VTN_EVENT_PREFIX,
    event_object,
    event_targets_for_filter,
    oadr_event_object,
    program_object,
    report_object,
    resource_object,
    subscription_object,
    ven_object,
)
from .selectors import events_visible_to

MAX_ID = 2**63 - 1  # a bigint primary key: a longer objectID names nothing here


def _object_id(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def _text(value: str) -> str | None:
    """A query string value to filter on (a NUL character matches nothing: PostgreSQL text cannot hold it)."""
    return None if "\x00" in value else value


def _get(qs, pk):
    number = _object_id(pk)
    try:
        return qs.get(pk=number) if number is not None else qs.none().get()
    except qs.model.DoesNotExist:
        raise Problem(404, "Not Found", "No such object.") from None


# --- programs -------------------------------------------------------------------------------------------------


class ProgramsApi(OadrView):
    def get(self, request):
        return self.page(request, [program_object(p) for p in Program.objects.order_by("id")])

    def post(self, request):
        self.require_bl(request)
        program = oadr.oadr_program_save(program=None, spec=self.body(request, "program"))
        return Response(program_object(program), status=status.HTTP_201_CREATED)


class ProgramApi(OadrView):
    def get(self, request, pk):
        return Response(program_object(_get(Program.objects.all(), pk)))

    def put(self, request, pk):
        self.require_bl(request)
        program = _get(Program.objects.all(), pk)
        program = oadr.oadr_program_save(program=program, spec=self.body(request, "program"))
        return Response(program_object(program))

    def delete(self, request, pk):
        self.require_bl(request)
        return Response(oadr.oadr_program_delete(program=_get(Program.objects.all(), pk)))


# --- events ---------------------------------------------------------------------------------------------------


def _events_for(request, *, cancelled: bool = False) -> QuerySet[DREvent]:
    """Dispatched events the caller may read: a VEN those for its resources' premises; cancelled (deleted)
    events only when asked (a VEN still reports on them)."""
    qs = DREvent.objects.select_related("zone").filter(program__isnull=False)
    if not cancelled:
        qs = qs.exclude(status=DREvent.Status.CANCELLED)
    if is_ven(request):
        ven = ven_of(request)
        if ven is None:
            return qs.none()
        premises = ven.resources.filter(premise__isnull=False).values_list("premise_id", flat=True)
        return qs.filter(premise_id__in=premises).order_by("start", "id")
    return qs.filter(pk__in=events_visible_to(request.user).values("pk")).order_by("start", "id")


def _kept_events_for(request, *, deleted: bool = False) -> list[OadrEvent]:
    """Events the VTN keeps without dispatching that the caller may read (a VEN: those that reach it)."""
    if is_ven(request):
        ven = ven_of(request)
        if ven is None:
            return []
        rows = events_oadr.oadr_events_for_ven(ven, deleted=deleted)
    else:
        rows = OadrEvent.objects.select_related("program").order_by("created_at", "id")
        rows = list(rows if deleted else rows.filter(deleted_at__isnull=True))
    return rows


def _get_event(request, pk, *, gone: bool = False) -> DREvent | OadrEvent:
    if isinstance(pk, str) and pk.startswith(VTN_EVENT_PREFIX):
        wanted = _object_id(pk.removeprefix(VTN_EVENT_PREFIX))
        for event in _kept_events_for(request, deleted=gone):
            if event.pk == wanted:
                return event
        raise Problem(404, "Not Found", "No such object.")
    return _get(_events_for(request, cancelled=gone), pk)


class EventsApi(OadrView):
    def get(self, request):
        program_id = request.query_params.get("programID")
        dispatched = _events_for(request)
        kept = _kept_events_for(request)
        if program_id is not None:
            wanted = _object_id(program_id)
            dispatched = dispatched.filter(program_id=wanted) if wanted else dispatched.none()
            kept = [e for e in kept if e.program_id == wanted]
        objects = [(event_object(e), event_targets_for_filter(e)) for e in dispatched]
        objects += [(oadr_event_object(e), e.spec.get("targets")) for e in kept]
        return self.page(request, objects)

    def post(self, request):
        """BL creates an event (the spec's ``event``, kept whole). The platform dispatches it when it asks one
        enrolled premise for a reduction (operator-event rules apply: notice, caps...); otherwise the VTN keeps
        and delivers it (``activation.openadr_events``)."""
        self.require_bl(request)
        spec = self.body(request, "event")
        program = _get(Program.objects.all(), spec["programID"])
        plan = events_oadr.event_dispatch_plan(spec, premises=premises_visible_to(request.user))
        if plan is None:
            kept = events_oadr.oadr_event_create(program=program, spec=spec, user=request.user)
            return Response(oadr_event_object(kept), status=status.HTTP_201_CREATED)
        event = services.event_create(
            program=program,
            premise=plan.premise,
            target_kw=plan.target_kw,
            start=plan.start,
            end=plan.end,
            created_by=request.user,
            oadr_spec=spec,
        )
        return Response(event_object(event), status=status.HTTP_201_CREATED)


class EventApi(OadrView):
    def get(self, request, pk):
        event = _get_event(request, pk)
        return Response(event_object(event) if isinstance(event, DREvent) else oadr_event_object(event))

    def put(self, request, pk):
        """BL revises an event. A dispatched one: its window and target before it starts (program and premise
        fixed); a kept one: the new body replaces it."""
        self.require_bl(request)
        event = _get_event(request, pk)
        spec = self.body(request, "event")
        if isinstance(event, OadrEvent):
            program = _get(Program.objects.all(), spec["programID"])
            return Response(oadr_event_object(events_oadr.oadr_event_replace(event=event, program=program, spec=spec)))
        plan = events_oadr.event_dispatch_plan(spec, premises=premises_visible_to(request.user))
        if plan is None or str(spec["programID"]) != str(event.program_id) or plan.premise.pk != event.premise_id:
            raise Problem(  # the body is well formed; it conflicts with what the event already is (RFC 9110 §15.5.10)
                409,
                "Conflict",
                "targets: a dispatched event keeps its programID and premise and needs a DISPATCH_SETPOINT_RELATIVE.",
            )
        event = oadr.oadr_event_update(
            event_id=event.pk, target_kw=plan.target_kw, start=plan.start, end=plan.end, spec=spec
        )
        return Response(event_object(event))

    def delete(self, request, pk):
        self.require_bl(request)
        event = _get_event(request, pk)
        if isinstance(event, OadrEvent):
            return Response(events_oadr.oadr_event_remove(event=event))
        return Response(oadr.oadr_event_delete(event_id=event.pk, user=request.user))


# --- reports --------------------------------------------------------------------------------------------------


def _reports_for(request):
    qs = OadrReport.objects.order_by("id")
    if is_ven(request):
        return qs.filter(ven=ven_of(request)) if ven_of(request) else qs.none()
    return qs.filter(Q(event__in=events_visible_to(request.user).values("pk")) | Q(oadr_event__isnull=False))


def _report_save(view: OadrView, request, report: OadrReport | None) -> Response:
    ven = view.require_ven(request)
    spec = view.body(request, "report")
    event = _get_event(request, spec["eventID"], gone=True)  # a cancelled event still takes its reports
    program = _get(Program.objects.all(), spec["programID"])
    saved = oadr.oadr_report_save(
        ven=ven,
        program=program,
        event=event,
        client_name=spec["clientName"],
        report_name=spec.get("reportName"),
        payload_descriptors=spec.get("payloadDescriptors"),
        resources=spec["resources"],
        report=report,
    )
    return Response(report_object(saved), status=status.HTTP_201_CREATED if report is None else 200)


class ReportsApi(OadrView):
    def get(self, request):
        qs = _reports_for(request)
        params = request.query_params
        if params.get("programID") is not None:
            qs = qs.filter(program_id=_object_id(params["programID"]))
        if params.get("eventID") is not None:
            value = params["eventID"]
            if value.startswith(VTN_EVENT_PREFIX):
                qs = qs.filter(oadr_event_id=_object_id(value.removeprefix(VTN_EVENT_PREFIX)))
            else:
                qs = qs.filter(event_id=_object_id(value))
        if params.get("clientName") is not None:
            qs = qs.filter(client_name=_text(params["clientName"]))
        return self.page(request, [report_object(r) for r in qs])

    def post(self, request):
        return _report_save(self, request, None)


class ReportApi(OadrView):
    def get(self, request, pk):
        return Response(report_object(_get(_reports_for(request), pk)))

    def put(self, request, pk):
        self.require_ven(request)
        return _report_save(self, request, _get(_reports_for(request), pk))

    def delete(self, request, pk):
        self.require_ven(request)
        return Response(oadr.oadr_report_delete(report=_get(_reports_for(request), pk)))


# --- subscriptions --------------------------------------------------------------------------------------------


def _subs_for(request):
    qs = OadrSubscription.objects.order_by("id")
    if is_ven(request):
        return qs.filter(ven=ven_of(request)) if ven_of(request) else qs.none()
    return qs


def _subscription_save(view: OadrView, request, sub: OadrSubscription, code: int) -> Response:
    spec = view.body(request, "subscription")
    for n, op in enumerate(spec["objectOperations"]):
        if not op["callbackUrl"].startswith(("http://", "https://")):
            raise Problem(400, "Bad Request", f"objectOperations/{n}/callbackUrl: an http(s) URL.")
    sub = oadr.subscription_save(
        subscription=sub,
        program=_get(Program.objects.all(), spec["programID"]),
        client_name=spec["clientName"],
        object_operations=spec["objectOperations"],
        targets=spec.get("targets"),
    )
    return Response(subscription_object(sub), status=code)


class SubscriptionsApi(OadrView):
    def get(self, request):
        qs = _subs_for(request)
        params = request.query_params
        if params.get("programID") is not None:
            qs = qs.filter(program_id=_object_id(params["programID"]))
        if params.get("clientName") is not None:
            qs = qs.filter(client_name=_text(params["clientName"]))
        objects = [subscription_object(s) for s in qs]
        wanted = set(params.getlist("objects"))
        if wanted:
            objects = [o for o in objects if any(wanted & set(op.get("objects") or []) for op in o["objectOperations"])]
        return self.page(request, objects)

    def post(self, request):
        ven = self.require_ven(request) if is_ven(request) else None
        return _subscription_save(self, request, OadrSubscription(ven=ven), status.HTTP_201_CREATED)


class SubscriptionApi(OadrView):
    def get(self, request, pk):
        return Response(subscription_object(_get(_subs_for(request), pk)))

    def put(self, request, pk):
        return _subscription_save(self, request, _get(_subs_for(request), pk), 200)

    def delete(self, request, pk):
        return Response(oadr.subscription_delete(subscription=_get(_subs_for(request), pk)))


# --- VENs and resources ---------------------------------------------------------------------------------------


def _vens_for(request):
    qs = Ven.objects.prefetch_related("resources").order_by("id")
    if is_ven(request):
        return qs.filter(pk=ven_of(request).pk) if ven_of(request) else qs.none()
    return qs


class VensApi(OadrView):
    def get(self, request):
        qs = _vens_for(request)
        if request.query_params.get("venName") is not None:
            qs = qs.filter(ven_name=_text(request.query_params["venName"]))
        return self.page(request, [ven_object(v) for v in qs])

    def post(self, request):
        """A VEN client registers its own VEN (once; 409 for a taken venName or a second VEN); the BL may
        create a VEN object too (without credentials). Resources given with it are created with it."""
        spec = self.body(request, "ven")
        ven = oadr.ven_create(
            ven_name=spec["venName"],
            attributes=spec.get("attributes"),
            targets=spec.get("targets"),
            resources=spec.get("resources"),
            client=request.user.client if is_ven(request) else None,
        )
        return Response(ven_object(ven), status=status.HTTP_201_CREATED)


class VenApi(OadrView):
    def get(self, request, pk):
        return Response(ven_object(_get(_vens_for(request), pk)))

    def put(self, request, pk):
        """Name, attributes and targets; its resources are written through ``/vens/{id}/resources``."""
        ven = _get(_vens_for(request), pk)
        spec = self.body(request, "ven")
        ven = oadr.ven_update(
            ven=ven, ven_name=spec["venName"], attributes=spec.get("attributes"), targets=spec.get("targets")
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
        if request.query_params.get("resourceName") is not None:
            qs = qs.filter(resource_name=_text(request.query_params["resourceName"]))
        return self.page(request, [resource_object(r) for r in qs])

    def post(self, request, pk):
        ven = _get(_vens_for(request), pk)
        spec = self.body(request, "resource")
        r = oadr.ven_resource_upsert(
            ven=ven, resource_name=spec["resourceName"], attributes=spec.get("attributes"), targets=spec.get("targets")
        )
        return Response(resource_object(r), status=status.HTTP_201_CREATED)


class ResourceApi(OadrView):
    def get(self, request, pk, rid):
        return Response(resource_object(_get(_get(_vens_for(request), pk).resources.all(), rid)))

    def put(self, request, pk, rid):
        ven = _get(_vens_for(request), pk)
        resource = _get(ven.resources.all(), rid)
        spec = self.body(request, "resource")
        r = oadr.ven_resource_upsert(
            ven=ven,
            resource_name=spec["resourceName"],
            attributes=spec.get("attributes"),
            targets=spec.get("targets"),
            resource=resource,
        )
        return Response(resource_object(r))

    def delete(self, request, pk, rid):
        resource = _get(_get(_vens_for(request), pk).resources.all(), rid)
        return Response(oadr.ven_resource_delete(resource=resource))


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
