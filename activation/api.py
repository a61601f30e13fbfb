"""Activation API: demand-response events and their verified delivery.

Every POST that creates something takes an ``Idempotency-Key`` header (``flexplatform.api.idempotent_post``):
the same key and body return the first response without creating anything again; the same key with another
body is refused (409)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.models import GridZone, Membership
from accounts.permissions import HasRole
from flexplatform.api import idempotent_post, list_schema, paginated
from flexplatform.errors import NotFound
from market.api import AwareDateTimeField

from . import services
from .models import Cascade, DREvent, EmergencyStop, GridSignal, Program
from .selectors import event_measured_kw, events_visible_to, reservations_visible_to

OPERATOR_ROLES = (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)


class BaselineChoiceSerializer(serializers.Serializer):
    month = serializers.DateField()
    day_type = serializers.CharField(help_text="weekday, saturday or sunday-holiday")
    policy = serializers.CharField(help_text="fixed (the program's method) or most-accurate (on like days, monthly)")
    method = serializers.CharField()
    default_method = serializers.CharField()
    evidence = serializers.JSONField(help_text="like days, window, per-method score and ASHRAE Guideline 14 accuracy")
    chosen_at = serializers.DateTimeField()


class VerificationSerializer(serializers.Serializer):
    baseline_method = serializers.CharField(source="baseline.method", default=None)
    baseline_choice = BaselineChoiceSerializer(source="baseline.choice", default=None, allow_null=True)
    baseline_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    actual_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    delivered_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    committed_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    verified_at = serializers.DateTimeField()
    actual_source = serializers.CharField(help_text="meter, ven_report (OpenADR 3 report) or mixed")
    baseline_source = serializers.CharField(help_text="meter (assessment baseline) or ven_report")


class EventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    award = serializers.IntegerField(source="award_id", allow_null=True)
    premise = serializers.IntegerField(source="premise_id")
    zone = serializers.CharField(source="zone.code")
    target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.CharField()
    source = serializers.CharField()
    program = serializers.CharField(source="program.code", default=None)
    cascade = serializers.IntegerField(source="cascade_id", allow_null=True)
    tier = serializers.IntegerField(allow_null=True)
    reservation = serializers.IntegerField(source="reservation_id", allow_null=True)
    price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    buyer = serializers.CharField(source="buyer.name", default=None)
    verification = serializers.SerializerMethodField()

    @extend_schema_field(VerificationSerializer(allow_null=True))
    def get_verification(self, obj):
        v = getattr(obj, "verification", None)
        return VerificationSerializer(v).data if v else None


class EventListApi(APIView):
    @list_schema(EventOutputSerializer)
    def get(self, request):
        return paginated(request, events_visible_to(request.user), EventOutputSerializer)


def _program(code: str) -> Program:
    program = Program.objects.filter(code=code).first()
    if program is None:
        raise serializers.ValidationError({"program": ["Unknown program."]})
    return program


def _operator_zone(user, zone: GridZone) -> GridZone:
    policies.require_zone(user, zone)
    return zone


class EventCreateApi(EventListApi):
    """Operators create an event for one enrolled resource in their service area (program notice, caps apply)."""

    permission_classes = [HasRole]
    allowed_roles = OPERATOR_ROLES

    class InputSerializer(serializers.Serializer):
        program = serializers.CharField()
        premise = serializers.IntegerField()
        target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        start = AwareDateTimeField()
        end = AwareDateTimeField()

    def get_permissions(self):
        from rest_framework.permissions import IsAuthenticated

        return [IsAuthenticated()] if self.request.method == "GET" else [HasRole()]

    @extend_schema(request=InputSerializer, responses={201: EventOutputSerializer})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            premise = policies.premises_visible_to(request.user).filter(pk=v["premise"]).first()
            if premise is None:
                raise serializers.ValidationError({"premise": ["Unknown premise or outside your service area."]})
            event = services.event_create(
                program=_program(v["program"]),
                premise=premise,
                target_kw=v["target_kw"],
                start=v["start"],
                end=v["end"],
                created_by=request.user,
            )
            return Response(EventOutputSerializer(event).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "activation_event", handler)


def _event_for(user, pk: int) -> DREvent:
    event = events_visible_to(user).filter(pk=pk).first()
    if event is None:
        raise NotFound("No such event.")
    return event


class EventCancelApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OPERATOR_ROLES

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses=EventOutputSerializer)
    def post(self, request, pk: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.event_cancel(
            event_id=_event_for(request.user, pk).pk, user=request.user, reason=data.validated_data.get("reason", "")
        )
        return Response(EventOutputSerializer(event).data)


class EventOptOutApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR)

    @extend_schema(request=None, responses={201: dict})
    def post(self, request, pk: int):
        def handler():
            opt = services.event_opt_out(event_id=_event_for(request.user, pk).pk, user=request.user)
            return Response(
                {"event": opt.event_id, "phase": opt.phase, "consequence": opt.consequence, "at": opt.at.isoformat()},
                status=status.HTTP_201_CREATED,
            )

        return idempotent_post(request, f"activation_opt_out:{pk}", handler)


class EventMonitorApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request, pk: int):
        event = _event_for(request.user, pk)
        return Response(
            {
                "event": event.pk,
                "status": event.status,
                "target_kw": str(event.target_kw),
                "measured_kw": str(event_measured_kw(event=event)),
            }
        )


class EmergencyEventApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OPERATOR_ROLES

    class InputSerializer(serializers.Serializer):
        program = serializers.CharField()
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        start = AwareDateTimeField()
        end = AwareDateTimeField()

    @extend_schema(request=InputSerializer, responses={201: EventOutputSerializer(many=True)})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            events = services.emergency_event_create(
                program=_program(v["program"]),
                zone=_operator_zone(request.user, v["zone"]),
                start=v["start"],
                end=v["end"],
                user=request.user,
            )
            return Response(EventOutputSerializer(events, many=True).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "activation_emergency_event", handler)


class CascadeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program = serializers.CharField(source="program.code")
    zone = serializers.CharField(source="zone.code")
    target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.CharField()
    current_tier = serializers.IntegerField()
    steps = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_steps(self, obj):
        return [
            {
                "tier": s.tier,
                "action": s.action,
                "at": s.at.isoformat(),
                "dispatched_kw": str(s.dispatched_kw),
                "measured_kw": None if s.measured_kw is None else str(s.measured_kw),
                "detail": s.detail,
            }
            for s in obj.steps.all()
        ]


class CascadeApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OPERATOR_ROLES

    class InputSerializer(serializers.Serializer):
        program = serializers.CharField()
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        start = AwareDateTimeField()
        end = AwareDateTimeField()

    @list_schema(CascadeOutputSerializer)
    def get(self, request):
        qs = Cascade.objects.select_related("program", "zone").prefetch_related("steps")
        zone_ids = policies.zone_scope(request.user)
        if zone_ids is not None:
            qs = qs.filter(zone_id__in=zone_ids)
        return paginated(request, qs, CascadeOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: CascadeOutputSerializer})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            cascade = services.cascade_start(
                program=_program(v["program"]),
                zone=_operator_zone(request.user, v["zone"]),
                target_kw=v["target_kw"],
                start=v["start"],
                end=v["end"],
                user=request.user,
            )
            return Response(CascadeOutputSerializer(cascade).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "activation_cascade", handler)


class GridSignalApi(APIView):
    """The operator's grid-signal feed: price, forecast load, frequency; trigger rules fire on it."""

    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.GRID_OPERATOR,)

    class InputSerializer(serializers.Serializer):
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        kind = serializers.ChoiceField(choices=GridSignal.Kind.choices)
        at = AwareDateTimeField()
        value = serializers.DecimalField(max_digits=14, decimal_places=4)

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            signal, fired = services.grid_signal_post(
                operator=policies.acting_organisation(request.user, Membership.Role.GRID_OPERATOR),
                zone=_operator_zone(request.user, v["zone"]),
                kind=v["kind"],
                at=v["at"],
                value=v["value"],
                user=request.user,
            )
            return Response(
                {
                    "signal": signal.pk,
                    "fired": [{"rule": f.rule_id, "cascade": f.cascade_id, "detail": f.detail} for f in fired],
                },
                status=status.HTTP_201_CREATED,
            )

        return idempotent_post(request, "activation_grid_signal", handler)


class EmergencyStopApi(APIView):
    """GET: the stop's state and audit log. POST engage (operators, admins). DELETE lifts it (admins only)."""

    permission_classes = [HasRole]
    allowed_roles = OPERATOR_ROLES

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300)

    @staticmethod
    def _row(s: EmergencyStop) -> dict:
        return {
            "id": s.pk,
            "engaged_by": getattr(s.engaged_by, "email", None),
            "engaged_at": s.engaged_at.isoformat(),
            "reason": s.reason,
            "lifted_by": getattr(s.lifted_by, "email", None),
            "lifted_at": s.lifted_at.isoformat() if s.lifted_at else None,
            "lift_reason": s.lift_reason,
        }

    @extend_schema(responses=dict)
    def get(self, request):
        active = services.emergency_stop_active()
        log = EmergencyStop.objects.select_related("engaged_by", "lifted_by")[:50]
        return Response({"engaged": active is not None, "log": [self._row(s) for s in log]})

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            stop = services.emergency_stop_engage(user=request.user, reason=data.validated_data["reason"])
            return Response(self._row(stop), status=status.HTTP_201_CREATED)

        return idempotent_post(request, "activation_emergency_stop", handler)

    @extend_schema(responses=dict)
    def delete(self, request):
        stop = services.emergency_stop_lift(
            user=request.user, reason=request.data.get("reason", "") if isinstance(request.data, dict) else ""
        )
        return Response(self._row(stop))


class ReservationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    award = serializers.IntegerField(source="award_id")
    product = serializers.CharField()
    premise = serializers.IntegerField(source="premise_id")
    zone = serializers.CharField(source="zone.code")
    seller = serializers.CharField(source="seller.name")
    buyer = serializers.CharField(source="buyer.name")
    reserved_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    availability_price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)
    energy_price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)
    notice_minutes = serializers.IntegerField()
    calls = serializers.IntegerField(help_text="Calls made (events not cancelled).")


class ReservationListApi(APIView):
    """Reservations (capacity and ancillary awards held available): operators see those in their service area,
    consumers and aggregators those of their premises. ``?active=1``: only those not yet over."""

    @list_schema(ReservationOutputSerializer)
    def get(self, request):
        from django.utils import timezone

        qs = reservations_visible_to(request.user)
        if request.query_params.get("active") in ("1", "true"):
            qs = qs.filter(window_end__gt=timezone.now())
        return paginated(request, qs, ReservationOutputSerializer)


class ReservationCallApi(APIView):
    """The operator that bought a reservation in its service area calls it: an event inside the reservation
    (kW up to what is still reserved for that time, the reservation's notice honoured), dispatched at once and
    paid at the reservation's energy price. ``Idempotency-Key`` makes a retried call return the first event."""

    permission_classes = [HasRole]
    allowed_roles = OPERATOR_ROLES

    class InputSerializer(serializers.Serializer):
        target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        start = AwareDateTimeField()
        end = AwareDateTimeField()

    @extend_schema(request=InputSerializer, responses={201: EventOutputSerializer})
    def post(self, request, pk: int):
        from flexplatform.api import idempotent_post

        if not reservations_visible_to(request.user).filter(pk=pk).exists():
            raise NotFound("No such reservation.")

        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            event = services.reservation_call(
                reservation_id=pk, user=request.user, target_kw=v["target_kw"], start=v["start"], end=v["end"]
            )
            return Response(EventOutputSerializer(event).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, f"reservation-call:{pk}", handler)


class TriggerRuleApi(APIView):
    """Operators list and create trigger rules on their grid-signal feed (zones in their service area)."""

    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.GRID_OPERATOR,)

    class InputSerializer(serializers.Serializer):
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        program = serializers.CharField()
        kind = serializers.ChoiceField(choices=GridSignal.Kind.choices)
        threshold = serializers.DecimalField(max_digits=14, decimal_places=4)
        target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, default=60)
        lead_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, default=0)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        zone = serializers.CharField(source="zone.code")
        program = serializers.CharField(source="program.code")
        kind = serializers.CharField()
        threshold = serializers.DecimalField(max_digits=14, decimal_places=4)
        target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        duration_minutes = serializers.IntegerField()
        lead_minutes = serializers.IntegerField()
        active = serializers.BooleanField()

    @list_schema(OutputSerializer)
    def get(self, request):
        from .models import TriggerRule

        qs = TriggerRule.objects.select_related("zone", "program").order_by("id")
        if not policies.reads_everything(request.user):  # admins and auditors read every operator's rules
            qs = qs.filter(operator__in=policies.organisations(request.user, role=Membership.Role.GRID_OPERATOR))
        return paginated(request, qs, self.OutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        from .rules_services import trigger_rule_create

        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            rule = trigger_rule_create(
                operator=policies.acting_organisation(request.user, Membership.Role.GRID_OPERATOR),
                zone=_operator_zone(request.user, v["zone"]),
                program=_program(v["program"]),
                kind=v["kind"],
                threshold=v["threshold"],
                target_kw=v["target_kw"],
                duration_minutes=v["duration_minutes"],
                lead_minutes=v["lead_minutes"],
            )
            return Response(self.OutputSerializer(rule).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "activation_trigger_rule", handler)


class WebhookEndpointApi(APIView):
    """Aggregators list and register the endpoints that receive their signed event webhooks."""

    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.AGGREGATOR,)

    class InputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=500)
        secret = serializers.CharField(min_length=16, max_length=128, write_only=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        url = serializers.URLField()
        active = serializers.BooleanField()
        created_at = serializers.DateTimeField()

    @list_schema(OutputSerializer)
    def get(self, request):
        from .models import WebhookEndpoint

        qs = WebhookEndpoint.objects.order_by("id")
        if not policies.reads_everything(request.user):  # admins and auditors read every aggregator's endpoints
            qs = qs.filter(organisation__in=policies.organisations(request.user, role=Membership.Role.AGGREGATOR))
        return paginated(request, qs, self.OutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            endpoint = services.webhook_endpoint_create(
                organisation=policies.acting_organisation(request.user, Membership.Role.AGGREGATOR),
                url=data.validated_data["url"],
                secret=data.validated_data["secret"],
            )
            return Response(self.OutputSerializer(endpoint).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "activation_webhook_endpoint", handler)


class VenClientApi(APIView):
    """Aggregators (and operators) issue OpenADR 3 VEN client credentials; the VEN then gets tokens from
    ``/openadr3/3.0.1/auth/token`` and registers itself with ``POST /vens``. The secret is shown once (so this
    POST takes no ``Idempotency-Key``: a replay would have to store the secret)."""

    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.AGGREGATOR, Membership.Role.GRID_OPERATOR)

    @extend_schema(request=None, responses={201: dict})
    def post(self, request):
        from .openadr_services import ven_client_create

        client, secret = ven_client_create(organisation=policies.acting_organisation(request.user))
        return Response(
            {"client_id": client.client_id, "client_secret": secret, "token_url": "/openadr3/3.0.1/auth/token"},
            status=status.HTTP_201_CREATED,
        )


urlpatterns = [
    path("reservations/", ReservationListApi.as_view(), name="reservations"),
    path("reservations/<int:pk>/call/", ReservationCallApi.as_view(), name="reservation-call"),
    path("events/", EventCreateApi.as_view(), name="events"),
    path("events/<int:pk>/cancel/", EventCancelApi.as_view(), name="event-cancel"),
    path("events/<int:pk>/opt-out/", EventOptOutApi.as_view(), name="event-opt-out"),
    path("events/<int:pk>/monitor/", EventMonitorApi.as_view(), name="event-monitor"),
    path("emergency-events/", EmergencyEventApi.as_view(), name="emergency-events"),
    path("cascades/", CascadeApi.as_view(), name="cascades"),
    path("grid-signals/", GridSignalApi.as_view(), name="grid-signals"),
    path("emergency-stop/", EmergencyStopApi.as_view(), name="emergency-stop"),
    path("trigger-rules/", TriggerRuleApi.as_view(), name="trigger-rules"),
    path("webhook-endpoints/", WebhookEndpointApi.as_view(), name="webhook-endpoints"),
    path("ven-clients/", VenClientApi.as_view(), name="ven-clients"),
]
