"""Settlement API: my settlement items, their Merkle proofs, the anchors, and on-chain verification."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from flexplatform.api import list_schema, paginated
from flexplatform.errors import Conflict

from . import selectors
from .models import PeriodAnchor, SettlementItem
from .services.proofs import proof_verify_on_chain

items_visible_to = selectors.items_visible_to


class ItemOutputSerializer(serializers.ModelSerializer):
    period_start = serializers.DateTimeField(source="period.start")

    class Meta:
        model = SettlementItem
        fields = [
            "id",
            "kind",
            "payee",
            "premise",
            "event",
            "quantity_kwh",
            "price_per_mwh",
            "amount",
            "currency",
            "delivery_start",
            "period_start",
            "created_at",
        ]


class ItemListApi(APIView):
    @list_schema(ItemOutputSerializer)
    def get(self, request):
        return paginated(request, items_visible_to(request.user), ItemOutputSerializer)


class ItemProofApi(APIView):
    """The proof bundle of one settlement item: leaf values, proof, root, period, transaction."""

    @extend_schema(responses=dict)
    def get(self, request, pk: int):
        item = get_object_or_404(items_visible_to(request.user), pk=pk)
        bundle = selectors.item_proof(item=item)
        if bundle is None:
            raise Conflict("The item's period is not sealed yet.", code="not_anchored")
        return Response(bundle)


class ItemProofDownloadApi(APIView):
    """The proof bundle as a JSON file download, for ``docs/verify_bundle.py`` or the /verify/ page."""

    @extend_schema(responses=dict)
    def get(self, request, pk: int):
        item = get_object_or_404(items_visible_to(request.user), pk=pk)
        bundle = selectors.item_proof(item=item)
        if bundle is None:
            raise Conflict("The item's period is not sealed yet.", code="not_anchored")
        response = HttpResponse(json.dumps(bundle, indent=2) + "\n", content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="payment-{item.pk}-proof.json"'
        return response


class ProofVerifyApi(APIView):
    """Check a proof bundle against the contract's ``verify`` on the configured chain. Open to anyone."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        period = serializers.IntegerField(min_value=0)
        leaf = serializers.RegexField(r"^0x[0-9a-fA-F]{64}$")
        proof = serializers.ListField(child=serializers.RegexField(r"^0x[0-9a-fA-F]{64}$"), allow_empty=True)
        contract_address = serializers.RegexField(r"^0x[0-9a-fA-F]{40}$", required=False, allow_null=True)
        leaf_values = serializers.ListField(child=serializers.CharField(), required=False)

        class Meta:
            ref_name = "ProofVerify"

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(proof_verify_on_chain(**data.validated_data))


class AnchorOutputSerializer(serializers.ModelSerializer):
    period_start = serializers.DateTimeField(source="period.start")
    contract_address = serializers.CharField(source="deployment.address", default=None)
    chain_id = serializers.IntegerField(source="deployment.chain_id", default=None)

    class Meta:
        model = PeriodAnchor
        fields = [
            "period_start",
            "root",
            "leaf_count",
            "status",
            "tx_hash",
            "block_number",
            "gas_used",
            "contract_address",
            "chain_id",
            "confirmed_at",
        ]


class AnchorListApi(APIView):
    permission_classes = [AllowAny]

    @list_schema(AnchorOutputSerializer)
    def get(self, request):
        return paginated(request, selectors.anchors_recent(), AnchorOutputSerializer)


urlpatterns = [
    path("items/", ItemListApi.as_view(), name="items"),
    path("items/<int:pk>/proof/", ItemProofApi.as_view(), name="item-proof"),
    path("items/<int:pk>/proof/download/", ItemProofDownloadApi.as_view(), name="item-proof-download"),
    path("proofs/verify/", ProofVerifyApi.as_view(), name="proof-verify"),
    path("anchors/", AnchorListApi.as_view(), name="anchors"),
]

from .api_compensation import urlpatterns as compensation_urlpatterns  # noqa: E402 - the compensation endpoints

urlpatterns += compensation_urlpatterns
