"""Assessment API: real-time availability declarations, flexibility and accuracy per premise, and
accredited capacity by zone and hour for grid operators."""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.models import Membership, Premise
from accounts.permissions import HasRole
from accounts.selectors import premises_represented_by
from flexplatform.api import AwareDateTimeField
from flexplatform.errors import NotFound, NotPermitted

from .. import selectors, services
from ..models import AvailabilityDeclaration

SELLER_ROLES = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR)


class AvailabilityOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AvailabilityDeclaration
        fields = ["id", "premise", "available_kw", "soc_percent", "valid_from", "valid_until", "created_at"]


class AvailabilityDeclareApi(APIView):
    """A device owner or aggregator declares available kW, state of charge and until when."""

    permission_classes = [HasRole]
    allowed_roles = SELLER_ROLES

    class InputSerializer(serializers.Serializer):
        premise = serializers.IntegerField()
        available_kw = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=0)
        soc_percent = serializers.DecimalField(
            max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False, allow_null=True
        )
        valid_until = AwareDateTimeField()

    @extend_schema(request=InputSerializer, responses={201: AvailabilityOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        org = policies.acting_organisation(request.user)
        premise = None if org is None else premises_represented_by(org).filter(pk=v["premise"]).first()
        if premise is None:
            if Premise.objects.filter(pk=v["premise"]).exists():
                raise NotPermitted("You may not declare for this premise.", fields={"premise": ["Not yours."]})
            raise serializers.ValidationError({"premise": ["Unknown premise."]})
        declaration = services.availability_declare(
            premise=premise,
            organisation=org,
            available_kw=v["available_kw"],
            soc_percent=v.get("soc_percent"),
            valid_until=v["valid_until"],
        )
        return Response(AvailabilityOutputSerializer(declaration).data, status=status.HTTP_201_CREATED)


class PremiseFlexibilityApi(APIView):
    """A premise's flexibility profile, performance history, accredited capacity now and accuracy report."""

    permission_classes = [HasRole]
    allowed_roles = (*SELLER_ROLES, Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, premise_id: int):
        premise = policies.premises_visible_to(request.user).filter(pk=premise_id).first()
        if premise is None:
            raise NotFound("No such premise.")
        profile = selectors.flexibility_profile_latest(premise=premise)
        meter = premise.meters.order_by("id").first()
        now = timezone.now()
        declaration = selectors.availability_current(premise=premise, start=now, end=now + timedelta(minutes=1))
        return Response(
            {
                "premise": premise.pk,
                "reliability_factor": str(selectors.reliability_factor_for(premise=premise)),
                "performance": [
                    {
                        **h,
                        "committed_kwh": str(h["committed_kwh"]),
                        "delivered_kwh": str(h["delivered_kwh"]),
                        "performance": None if h["performance"] is None else str(h["performance"]),
                    }
                    for h in selectors.performance_history(premise=premise, limit=50)
                ],
                "availability": None if declaration is None else AvailabilityOutputSerializer(declaration).data,
                "profile": None
                if profile is None
                else {
                    "as_of": profile.as_of,
                    "score": profile.score,
                    "availability_scores": profile.availability_scores,
                    "seasonal": profile.seasonal,
                    "peak_shaving_kw": str(profile.peak_shaving_kw),
                    "load_shift_kwh": str(profile.load_shift_kwh),
                    "drivers": profile.drivers,
                },
                "accuracy": [
                    {
                        "method": a.method,
                        "as_of": a.as_of,
                        "days": a.days,
                        "relative_error_pct": str(a.relative_error_pct),
                        "nmbe_pct": str(a.nmbe_pct),
                        "cvrmse_pct": str(a.cvrmse_pct),
                        "meets_guideline14": a.meets_guideline14,
                        "recommended": a.recommended,
                    }
                    for a in ([] if meter is None else selectors.accuracy_report(meter=meter))
                ],
            }
        )


class ZoneCapacityApi(APIView):
    """Accredited capacity (kW) by zone and local hour of a day, for the operator's zones."""

    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)

    class QuerySerializer(serializers.Serializer):
        day = serializers.DateField(required=False)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        q = self.QuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        day: date = q.validated_data.get("day") or (timezone.now() + timedelta(days=1)).date()
        zone_ids = policies.zone_scope(request.user)
        if zone_ids is None:
            from accounts.models import GridZone

            zone_ids = set(GridZone.objects.values_list("pk", flat=True))
        by_zone = selectors.accredited_capacity_by_zone_hour(zone_ids=zone_ids, day=day)
        return Response(
            {
                "day": day,
                "zones": [{"zone": code, "kw_by_hour": [str(v) for v in row]} for code, row in by_zone.items()],
            }
        )


urlpatterns = [
    path("availability/", AvailabilityDeclareApi.as_view(), name="availability-declare"),
    path("premises/<int:premise_id>/flexibility/", PremiseFlexibilityApi.as_view(), name="premise-flexibility"),
    path("capacity/", ZoneCapacityApi.as_view(), name="zone-capacity"),
]
