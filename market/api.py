"""Market API: offers (participants), requests (grid operators), awards."""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import GridZone, Membership, Premise
from accounts.selectors import premises_offerable_by
from flexplatform.api import HasRole, acting_organisation, idempotent_post
from flexplatform.errors import NotPermitted

from . import selectors, services
from .models import Award, FlexibilityOffer, FlexibilityRequest

SELLER_ROLES = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR)


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry its offset: a naive time is refused, never silently read as UTC."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError("Give a timezone (e.g. 2026-11-24T17:00:00Z).", code="naive_datetime")
        return super().enforce_timezone(value)


class OfferOutputSerializer(serializers.ModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = FlexibilityOffer
        fields = ["id", "premise", "zone", "kw", "price_per_mwh", "window_start", "window_end", "status", "created_at"]


class OfferListCreateApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = SELLER_ROLES

    class InputSerializer(serializers.Serializer):
        premise = serializers.IntegerField()
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)
        window_start = AwareDateTimeField()
        window_end = AwareDateTimeField()

        class Meta:
            ref_name = "OfferSubmit"  # the OpenAPI component's name; nested "Input"s would collide

    @extend_schema(responses=OfferOutputSerializer(many=True))
    def get(self, request):
        seller = self._seller(request)
        offers = selectors.offers_for_seller(seller=seller)
        return Response(OfferOutputSerializer(offers, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OfferOutputSerializer})
    def post(self, request):
        def handler():
            seller = self._seller(request)
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            premise = premises_offerable_by(seller).filter(pk=v["premise"]).first()
            if premise is None:
                if Premise.objects.filter(pk=v["premise"]).exists():
                    raise NotPermitted("You may not offer this premise.", fields={"premise": ["Not yours to offer."]})
                raise serializers.ValidationError({"premise": ["Unknown premise."]})
            offer = services.offer_submit(
                seller=seller,
                premise=premise,
                zone=v["zone"],
                kw=v["kw"],
                price_per_mwh=v["price_per_mwh"],
                window_start=v["window_start"],
                window_end=v["window_end"],
                created_by=request.user,
            )
            return Response(OfferOutputSerializer(offer).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "offer", handler)

    @staticmethod
    def _seller(request):
        from accounts.selectors import user_role

        return acting_organisation(request.user, user_role(request.user))


class RequestOutputSerializer(serializers.ModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = FlexibilityRequest
        fields = ["id", "zone", "kw", "max_price_per_mwh", "window_start", "window_end", "status", "created_at"]


class RequestListCreateApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.GRID_OPERATOR,)

    class InputSerializer(serializers.Serializer):
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        max_price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)
        window_start = AwareDateTimeField()
        window_end = AwareDateTimeField()

        class Meta:
            ref_name = "RequestSubmit"

    @extend_schema(responses=RequestOutputSerializer(many=True))
    def get(self, request):
        operator = acting_organisation(request.user, Membership.Role.GRID_OPERATOR)
        return Response(RequestOutputSerializer(selectors.requests_for_operator(operator=operator), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: RequestOutputSerializer})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            req = services.request_submit(
                operator=acting_organisation(request.user, Membership.Role.GRID_OPERATOR),
                created_by=request.user,
                **data.validated_data,
            )
            return Response(RequestOutputSerializer(req).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "request", handler)


class AwardOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Award
        fields = ["id", "request", "offer", "premise", "kw", "clearing_price_per_mwh", "window_start", "window_end"]


class AwardListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (*SELLER_ROLES, Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)

    @extend_schema(responses=AwardOutputSerializer(many=True))
    def get(self, request):
        return Response(AwardOutputSerializer(selectors.awards_visible_to(request.user), many=True).data)


urlpatterns = [
    path("offers/", OfferListCreateApi.as_view(), name="offers"),
    path("requests/", RequestListCreateApi.as_view(), name="requests"),
    path("awards/", AwardListApi.as_view(), name="awards"),
]
