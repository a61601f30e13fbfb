"""Activation API: demand-response events and their verified delivery."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import events_visible_to


class VerificationSerializer(serializers.Serializer):
    baseline_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    actual_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    delivered_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    committed_kwh = serializers.DecimalField(max_digits=14, decimal_places=4)
    verified_at = serializers.DateTimeField()


class EventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    award = serializers.IntegerField(source="award_id")
    premise = serializers.IntegerField(source="premise_id")
    zone = serializers.CharField(source="zone.code")
    target_kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.CharField()
    verification = serializers.SerializerMethodField()

    @extend_schema_field(VerificationSerializer(allow_null=True))
    def get_verification(self, obj):
        v = getattr(obj, "verification", None)
        return VerificationSerializer(v).data if v else None


class EventListApi(APIView):
    @extend_schema(responses=EventOutputSerializer(many=True))
    def get(self, request):
        return Response(EventOutputSerializer(events_visible_to(request.user), many=True).data)


urlpatterns = [path("events/", EventListApi.as_view(), name="events")]
