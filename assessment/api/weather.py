"""Weather API: where a premise is (a point, or a postal code mapped to its point) and the station that serves it."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.models import Membership
from accounts.permissions import HasRole
from flexplatform.errors import NotFound

from ..weather.models import PremiseLocation
from ..weather.selectors import distance_km, station_for_premise
from ..weather.services import premise_locate

WRITERS = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN)
READERS = (*WRITERS, Membership.Role.GRID_OPERATOR)


class StationOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    distance_km = serializers.DecimalField(max_digits=7, decimal_places=1)


class LocationOutputSerializer(serializers.Serializer):
    latitude = serializers.DecimalField(max_digits=8, decimal_places=5)
    longitude = serializers.DecimalField(max_digits=8, decimal_places=5)
    postal_code = serializers.CharField()
    country = serializers.CharField()
    station = StationOutputSerializer(allow_null=True, help_text="The nearest station with data; null: none near.")


class LocationInputSerializer(serializers.Serializer):
    latitude = serializers.DecimalField(max_digits=8, decimal_places=5, required=False, min_value=-90, max_value=90)
    longitude = serializers.DecimalField(max_digits=8, decimal_places=5, required=False, min_value=-180, max_value=180)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")


def _output(location: PremiseLocation) -> dict:
    station = station_for_premise(premise=location.premise)
    return {
        "latitude": location.latitude,
        "longitude": location.longitude,
        "postal_code": location.postal_code,
        "country": location.country,
        "station": None
        if station is None
        else {
            "code": station.code,
            "name": station.name,
            "distance_km": round(
                distance_km(
                    float(location.latitude),
                    float(location.longitude),
                    float(station.latitude),
                    float(station.longitude),
                ),
                1,
            ),
        },  # fmt: skip
    }


class PremiseLocationApi(APIView):
    """GET or PUT where a premise is; its weather comes from the nearest station with data."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=LocationOutputSerializer)
    def get(self, request, premise_id: int):
        premise = policies.premises_visible_to(request.user).filter(pk=premise_id).first()
        if premise is None:
            raise NotFound("No such premise among yours.")
        location = PremiseLocation.objects.filter(premise=premise).select_related("premise").first()
        if location is None:
            raise NotFound("The premise has no location yet.")
        return Response(LocationOutputSerializer(_output(location)).data)

    @extend_schema(request=LocationInputSerializer, responses=LocationOutputSerializer)
    def put(self, request, premise_id: int):
        policies.require_role(request.user, WRITERS, "Grid operators read premise locations only.")
        premise = policies.premises_writable_by(request.user).filter(pk=premise_id).first()
        if premise is None:
            raise NotFound("No such premise among yours.")
        data = LocationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        location = premise_locate(premise=premise, **data.validated_data)
        return Response(LocationOutputSerializer(_output(location)).data)


urlpatterns = [path("premises/<int:premise_id>/location/", PremiseLocationApi.as_view(), name="premise-location")]
