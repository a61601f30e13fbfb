"""Device API: list and register devices, and the capability the platform counts for each."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from flexplatform.api import list_schema, paginated
from flexplatform.errors import ApplicationError, NotFound

from . import policies
from .device_credentials import device_credential_issue
from .device_services import device_capability, device_register, devices_visible_to, premises_device_writable_by
from .models import Device, Membership
from .permissions import HasRole

READERS = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN, Membership.Role.GRID_OPERATOR)
WRITERS = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN)
FIELDS = [
    "name", "kind", "manufacturer", "model", "control_channel", "channel_address", "rated_kw", "min_kw", "max_kw",
    "ramp_kw_per_min", "min_event_minutes", "max_event_minutes", "notice_minutes", "max_events_per_day",
    "max_events_per_month", "rebound_percent", "rebound_minutes", "comfort_min_c", "comfort_max_c", "setpoint_c",
    "capacity_kwh", "soc_min_percent", "soc_max_percent", "soc_percent", "active",
]  # fmt: skip


class DeviceOutputSerializer(serializers.ModelSerializer):
    premise = serializers.IntegerField(source="premise_id")

    class Meta:
        model = Device
        fields = ["id", "premise", *FIELDS]


class DeviceCreatedOutputSerializer(DeviceOutputSerializer):
    """The registration's answer: an MQTT device's broker credentials, or an OCPP charging station's HTTP Basic
    credentials on the CSMS (username = its station id), are in it once, never again."""

    mqtt_username = serializers.CharField(required=False)
    mqtt_password = serializers.CharField(required=False)
    ocpp_station_id = serializers.CharField(required=False)
    ocpp_password = serializers.CharField(required=False)

    class Meta(DeviceOutputSerializer.Meta):
        fields = [
            *DeviceOutputSerializer.Meta.fields, "mqtt_username", "mqtt_password", "ocpp_station_id", "ocpp_password"
        ]  # fmt: skip


class DeviceInputSerializer(serializers.ModelSerializer):
    premise = serializers.IntegerField()

    class Meta:
        model = Device
        fields = ["premise", *FIELDS]
        validators = []  # uniqueness is the service's business: a repeat updates


class DeviceListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @list_schema(DeviceOutputSerializer)
    def get(self, request):
        return paginated(request, devices_visible_to(request.user), DeviceOutputSerializer)

    @extend_schema(request=DeviceInputSerializer, responses={201: DeviceCreatedOutputSerializer})
    def post(self, request):
        policies.require_role(request.user, WRITERS, "Grid operators read devices only.")
        data = DeviceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        premise = premises_device_writable_by(request.user).filter(pk=values.pop("premise")).first()
        if premise is None:
            raise NotFound("No such premise among yours.")
        device = device_register(
            premise=premise, user=request.user, name=values.pop("name"), kind=values.pop("kind"),
            control_channel=values.pop("control_channel"), **values,
        )  # fmt: skip
        body = DeviceOutputSerializer(device).data
        fresh = not device.credentials.filter(revoked_at=None).exists()
        if fresh and device.control_channel == Device.Channel.MQTT:
            # Issued at registration and shown this once (ADR 0029); the broker learns it from manage.py mqtt_acl.
            body["mqtt_username"], body["mqtt_password"] = device_credential_issue(device=device, user=request.user)
        elif fresh and device.control_channel == Device.Channel.OCPP and device.channel_address:
            # The station's HTTP Basic credentials on the CSMS (OCPP 2.0.1 Security Profile 1/2, ADR 0031).
            body["ocpp_station_id"], body["ocpp_password"] = device_credential_issue(device=device, user=request.user)
        return Response(body, status=status.HTTP_201_CREATED)


class CapabilityOutputSerializer(serializers.Serializer):
    device = serializers.IntegerField()
    kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    reasons = serializers.ListField(child=serializers.CharField())
    rebound_kwh = serializers.DecimalField(max_digits=12, decimal_places=3)


class DeviceCapabilityApi(APIView):
    """The controllable kW counted for a device and why; ``?event_minutes=&notice_minutes=`` describe the event."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=CapabilityOutputSerializer)
    def get(self, request, pk: int):
        device = devices_visible_to(request.user).filter(pk=pk).first()
        if device is None:
            raise NotFound("No such device among yours.")
        try:
            event = {"event_minutes": int(request.query_params.get("event_minutes", 60))}
            if "notice_minutes" in request.query_params:
                event["notice_minutes"] = int(request.query_params["notice_minutes"])
        except ValueError:
            raise ApplicationError("Minutes must be integers.", fields={"event_minutes": ["Integer."]}) from None
        cap = device_capability(device, **event)
        return Response(
            {"device": device.pk, "kw": str(cap.kw), "reasons": cap.reasons, "rebound_kwh": str(cap.rebound_kwh)}
        )


urlpatterns = [
    path("devices/", DeviceListApi.as_view(), name="devices"),
    path("devices/<int:pk>/capability/", DeviceCapabilityApi.as_view(), name="device-capability"),
]
