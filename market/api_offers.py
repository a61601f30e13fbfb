"""Market API: flexibility offers (consumers and aggregators), one per POST or a list of them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.models import GridZone, Membership, Premise
from accounts.permissions import HasRole
from flexplatform.api import AwareDateTimeField, idempotent_post, list_schema, paginated
from flexplatform.errors import NotPermitted

from . import selectors, services
from .models import FlexibilityOffer
from .services.gates import premises_offerable_by

SELLER_ROLES = (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR)
#: offers one list POST may carry (a portfolio's offers for a window)
MAX_OFFERS_PER_POST = 5000


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

    @list_schema(OfferOutputSerializer)
    def get(self, request):
        seller = self._seller(request)
        offers = selectors.offers_for_seller(seller=seller)
        return paginated(request, offers, OfferOutputSerializer)

    @extend_schema(
        request=InputSerializer,
        responses={201: OfferOutputSerializer},
        description="One offer, or a JSON list of up to MAX_OFFERS_PER_POST offers (all or nothing: "
        "market.services.offers_submit_many; a refusal names the item, e.g. items[3].kw).",
    )
    def post(self, request):
        if isinstance(request.data, list):
            return idempotent_post(request, "offers", lambda: self._post_many(request))

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

    def _post_many(self, request):
        seller = self._seller(request)
        if not 0 < len(request.data) <= MAX_OFFERS_PER_POST:
            raise serializers.ValidationError({"items": [f"Send 1 to {MAX_OFFERS_PER_POST} offers."]})
        data = self.InputSerializer(data=request.data, many=True)
        data.is_valid(raise_exception=True)
        rows = data.validated_data
        premises = Premise.objects.select_related("grid_zone").in_bulk([v["premise"] for v in rows])
        unknown = {
            f"items[{i}].premise": ["Unknown premise."] for i, v in enumerate(rows) if v["premise"] not in premises
        }
        if unknown:
            raise serializers.ValidationError(unknown)
        offers = services.offers_submit_many(
            seller=seller,
            items=[
                services.OfferItem(
                    premise=premises[v["premise"]],
                    zone=v["zone"],
                    kw=v["kw"],
                    price_per_mwh=v["price_per_mwh"],
                    window_start=v["window_start"],
                    window_end=v["window_end"],
                )
                for v in rows
            ],
            created_by=request.user,
        )
        return Response(OfferOutputSerializer(offers, many=True).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _seller(request):
        return policies.acting_organisation(request.user)
