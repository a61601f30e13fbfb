"""Accounts API: premises visible to the caller, and API tokens."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import premises_visible_to


class PremiseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    segment = serializers.CharField()
    zone = serializers.CharField(source="grid_zone.code")
    timezone = serializers.CharField()
    organisation = serializers.CharField(source="organisation.name")
    aggregator = serializers.CharField(source="aggregator.name", default=None)


class PremiseListApi(APIView):
    @extend_schema(responses=PremiseOutputSerializer(many=True))
    def get(self, request):
        return Response(PremiseOutputSerializer(premises_visible_to(request.user), many=True).data)


class TokenApi(ObtainAuthToken):
    """Exchange a username (the email) and password for an API token."""


urlpatterns = [
    path("premises/", PremiseListApi.as_view(), name="premises"),
    path("auth/token/", TokenApi.as_view(), name="token"),
]

# Devices (accounts/device_api.py).
from .device_api import urlpatterns as device_urlpatterns  # noqa: E402

urlpatterns += device_urlpatterns
