"""Market API: offers (participants), requests (grid operators), awards."""

from __future__ import annotations

from decimal import Decimal

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.authentication import AUTH_VERSION
from accounts.models import GridZone, Membership
from accounts.permissions import HasRole
from flexplatform import snapshots
from flexplatform.api import AwareDateTimeField, idempotent_post, list_schema, paginated, validated
from flexplatform.errors import NotFound

from . import selectors, services
from .api_offers import SELLER_ROLES, OfferListCreateApi, OfferOutputSerializer  # noqa: F401 - the offers' URLs
from .engine.products import PRODUCT_CHOICES, MarketType
from .models import Auction, Award, FlexibilityRequest, MarketOrder, Trade
from .services import eligibility


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

    @list_schema(RequestOutputSerializer)
    def get(self, request):
        return paginated(request, selectors.requests_visible_to(request.user), RequestOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: RequestOutputSerializer})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            req = services.request_submit(
                operator=policies.acting_organisation(request.user, Membership.Role.GRID_OPERATOR),
                created_by=request.user,
                **data.validated_data,
            )
            return Response(RequestOutputSerializer(req).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "request", handler)


class AwardOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Award
        fields = [
            "id",
            "request",
            "offer",
            "order",
            "trade",
            "clearing_run",
            "market",
            "product",
            "premise",
            "seller",
            "buyer",
            "kw",
            "clearing_price_per_mwh",
            "window_start",
            "window_end",
        ]


class AwardListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (*SELLER_ROLES, Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)

    @list_schema(AwardOutputSerializer)
    def get(self, request):
        return paginated(request, selectors.awards_visible_to(request.user), AwardOutputSerializer)


urlpatterns = [
    path("offers/", OfferListCreateApi.as_view(), name="offers"),
    path("requests/", RequestListCreateApi.as_view(), name="requests"),
    path("awards/", AwardListApi.as_view(), name="awards"),
]


# -- markets: orders (real-time, day-ahead, seasonal), positions, auctions, prices, arbitrage ---------------------

ORDER_ROLES = (*SELLER_ROLES, Membership.Role.GRID_OPERATOR)


def _org(request):
    return policies.acting_organisation(request.user)


class MemberSerializer(serializers.Serializer):
    premise = serializers.IntegerField()
    kw = serializers.DecimalField(max_digits=12, decimal_places=3)


class MarketOrderOutputSerializer(serializers.ModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="code", read_only=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = MarketOrder
        fields = [
            "id",
            "market",
            "product",
            "side",
            "kind",
            "zone",
            "auction",
            "is_block",
            "kw",
            "remaining_kw",
            "price_per_mwh",
            "delivery_start",
            "delivery_end",
            "status",
            "members",
            "created_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_members(self, obj):
        members = self.context.get("members")  # a service outcome's, already in hand
        if members is None:
            members = obj.members.all()
        return [{"premise": m.premise_id, "kw": str(m.kw), "remaining_kw": str(m.remaining_kw)} for m in members]


class TradeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trade
        fields = ["id", "buy_order", "sell_order", "kw", "price_per_mwh", "executed_at"]


class OrderCreatedOutputSerializer(MarketOrderOutputSerializer):
    """A new order as the order endpoint answers: the order with the trades it made at once."""

    trades = TradeOutputSerializer(many=True, read_only=True, source="created_trades")

    class Meta(MarketOrderOutputSerializer.Meta):
        fields = [*MarketOrderOutputSerializer.Meta.fields, "trades"]


_KW = serializers.DecimalField(max_digits=12, decimal_places=3)
_PRICE = serializers.DecimalField(max_digits=12, decimal_places=2)
_AT = serializers.DateTimeField()


def order_created_body(order: MarketOrder, members, trades: list[Trade]) -> dict:
    """A new order with its members and trades: what ``OrderCreatedOutputSerializer`` gives (the schema's
    description of it), written out for the order endpoint's hot path with the same DRF field formatting; a
    test holds the two equal."""
    return {
        "id": order.pk,
        "market": order.market,
        "product": order.product,
        "side": order.side,
        "kind": order.kind,
        "zone": order.zone.code,
        "auction": order.auction_id,
        "is_block": order.is_block,
        "kw": _KW.to_representation(order.kw),
        "remaining_kw": _KW.to_representation(order.remaining_kw),
        "price_per_mwh": _PRICE.to_representation(order.price_per_mwh),
        "delivery_start": _AT.to_representation(order.delivery_start),
        "delivery_end": _AT.to_representation(order.delivery_end),
        "status": order.status,
        "members": [
            {"premise": m.premise_id, "kw": str(m.kw), "remaining_kw": str(m.remaining_kw)}
            for m in (members if members is not None else order.members.all())
        ],
        "created_at": _AT.to_representation(order.created_at),
        "trades": [
            {
                "id": t.pk,
                "buy_order": t.buy_order_id,
                "sell_order": t.sell_order_id,
                "kw": _KW.to_representation(t.kw),
                "price_per_mwh": _PRICE.to_representation(t.price_per_mwh),
                "executed_at": _AT.to_representation(t.executed_at),
            }
            for t in trades
        ],
    }


class OrderListCreateApi(APIView):
    """Participants sell (``members``: their premises, several for a portfolio); grid operators buy (``kw``)."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    class InputSerializer(serializers.Serializer):
        market = serializers.ChoiceField(choices=[c for c, _ in MarketType.CHOICES])
        product = serializers.ChoiceField(choices=PRODUCT_CHOICES)
        side = serializers.ChoiceField(choices=MarketOrder.Side.choices)
        kind = serializers.ChoiceField(choices=MarketOrder.Kind.choices, default=MarketOrder.Kind.LIMIT)
        zone = serializers.SlugField(help_text="Grid zone code (the service resolves it with the zone hierarchy).")
        kw = serializers.DecimalField(max_digits=12, decimal_places=3, required=False)
        members = MemberSerializer(many=True, required=False)
        price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)
        delivery_start = AwareDateTimeField()
        delivery_end = AwareDateTimeField()
        is_block = serializers.BooleanField(default=False)
        priority = serializers.BooleanField(
            default=False,
            help_text="Sell orders: priority activation (locks the governed collateral_per_kw_priority FLEX per kW; "
            "dispatched first at equal price).",
        )
        auction = serializers.IntegerField(
            required=False, allow_null=True, help_text="The auction's id (day-ahead and seasonal orders)."
        )

    @list_schema(MarketOrderOutputSerializer)
    def get(self, request):
        return paginated(request, selectors.orders_for(organisation=_org(request)), MarketOrderOutputSerializer)

    def initial(self, request, *args, **kwargs):
        # The token check and every token the order will ask for, in one round trip (ADR 0016). So the body is
        # read before authentication, but only of a request that carries credentials, once the response format is
        # negotiated, and never an oversized one (RequestGuardMiddleware answered 413 before the view): an
        # anonymous client is refused with its body unread.
        if request.method == "POST" and request.headers.get("Authorization"):
            self.format_kwarg = self.get_format_suffix(**kwargs)
            request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
            snapshots.prefetch([AUTH_VERSION, *eligibility.order_tokens(request.data)])
        super().initial(request, *args, **kwargs)

    @extend_schema(request=InputSerializer, responses={201: OrderCreatedOutputSerializer})
    def post(self, request):
        def handler():
            v = validated(self.InputSerializer, request.data)
            members = [(m["premise"], m["kw"]) for m in v.get("members") or []]
            outcome = services.order_submit(
                organisation=_org(request),
                market=v["market"],
                product=v["product"],
                side=v["side"],
                kind=v["kind"],
                zone=v["zone"],
                kw=v.get("kw"),
                members=members,
                price_per_mwh=v["price_per_mwh"],
                delivery_start=v["delivery_start"],
                delivery_end=v["delivery_end"],
                is_block=v["is_block"],
                auction=v.get("auction"),
                priority=v["priority"],
                created_by=request.user,
            )
            body = order_created_body(outcome.order, outcome.members, outcome.trades)
            return Response(body, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "market_order", handler, look_first=False)


class OrderCancelApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    @extend_schema(request=None, responses=MarketOrderOutputSerializer)
    def post(self, request, pk: int):
        if not MarketOrder.objects.filter(pk=pk, organisation=_org(request)).exists():
            raise NotFound("No such order of yours.")
        order = services.order_cancel(order_id=pk, by=_org(request))
        return Response(MarketOrderOutputSerializer(order).data)


class OrderModifyApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    class InputSerializer(serializers.Serializer):
        kw = serializers.DecimalField(max_digits=12, decimal_places=3)
        price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)

    @extend_schema(request=InputSerializer, responses=MarketOrderOutputSerializer)
    def post(self, request, pk: int):
        if not MarketOrder.objects.filter(pk=pk, organisation=_org(request)).exists():
            raise NotFound("No such order of yours.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.order_modify(order_id=pk, by=_org(request), **data.validated_data)
        body = MarketOrderOutputSerializer(outcome.order).data
        body["trades"] = TradeOutputSerializer(outcome.trades, many=True).data
        return Response(body)


class PositionsApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    def get(self, request):
        org = _org(request)
        return Response(
            {
                "positions": [
                    {**r, "kw": str(r["kw"]), "value": str(r["value"])}
                    for r in selectors.positions_for(organisation=org)
                ],
                "open_orders": MarketOrderOutputSerializer(
                    selectors.orders_for(organisation=org).filter(status=MarketOrder.Status.OPEN), many=True
                ).data,
            }
        )


class AuctionOutputSerializer(serializers.ModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Auction
        fields = [
            "id",
            "market",
            "product",
            "zone",
            "delivery_start",
            "delivery_end",
            "interval_minutes",
            "gate_closure",
            "demand_curve",
            "status",
        ]


class DemandStepSerializer(serializers.Serializer):
    kw = serializers.DecimalField(max_digits=12, decimal_places=3)
    price_per_mwh = serializers.DecimalField(max_digits=12, decimal_places=2)


class AuctionListCreateApi(APIView):
    """Everyone signed in sees auctions; grid operators open them (seasonal: with their demand curve)."""

    def get_permissions(self):
        return [HasRole()] if self.request.method == "POST" else [IsAuthenticated()]

    allowed_roles = (Membership.Role.GRID_OPERATOR,)

    class InputSerializer(serializers.Serializer):
        market = serializers.ChoiceField(choices=[MarketType.DAY_AHEAD, MarketType.SEASONAL])
        product = serializers.ChoiceField(choices=PRODUCT_CHOICES)
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        delivery_start = AwareDateTimeField()
        delivery_end = AwareDateTimeField()
        gate_closure = AwareDateTimeField()
        interval_minutes = serializers.IntegerField(required=False)
        demand_curve = DemandStepSerializer(many=True, required=False)

    @list_schema(AuctionOutputSerializer)
    def get(self, request):
        return paginated(
            request, Auction.objects.select_related("zone").order_by("-delivery_start", "-pk"), AuctionOutputSerializer
        )

    @extend_schema(request=InputSerializer, responses={201: AuctionOutputSerializer})
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            auction = services.auction_open(
                operator=policies.acting_organisation(request.user, Membership.Role.GRID_OPERATOR),
                market=v["market"],
                product=v["product"],
                zone=v["zone"],
                delivery_start=v["delivery_start"],
                delivery_end=v["delivery_end"],
                gate_closure=v["gate_closure"],
                interval_minutes=v.get("interval_minutes"),
                demand_curve=v.get("demand_curve"),
            )
            return Response(AuctionOutputSerializer(auction).data, status=status.HTTP_201_CREATED)

        return idempotent_post(request, "auction", handler)


class PriceIntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    clearing_price_per_mwh = serializers.CharField(allow_null=True)
    volume_kw = serializers.CharField()


class PublishedPricesApi(APIView):
    """Public: clearing prices and volumes per zone and interval of the cleared auctions, newest delivery first."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        auction = serializers.IntegerField()
        market = serializers.CharField()
        product = serializers.CharField()
        zone = serializers.CharField()
        rule_version = serializers.CharField()
        cleared_at = serializers.DateTimeField()
        intervals = serializers.ListField(child=PriceIntervalSerializer())

    @list_schema(OutputSerializer, parameters=[OpenApiParameter("zone", str, description="A zone code.")])
    def get(self, request):
        zone = request.query_params.get("zone")
        zone_ids = None
        if zone:
            z = GridZone.objects.filter(code=zone).first()
            if z is None:
                raise NotFound("Unknown zone.")
            zone_ids = {z.pk}
        runs = selectors.published_price_runs(zone_ids=zone_ids)
        return paginated(request, runs, self.OutputSerializer, rows=selectors.published_price_rows)


class PriceSignalApi(APIView):
    """Public: the dynamic price signal for a zone, product and interval."""

    permission_classes = [AllowAny]

    class QuerySerializer(serializers.Serializer):
        zone = serializers.SlugRelatedField(slug_field="code", queryset=GridZone.objects.all())
        product = serializers.ChoiceField(choices=PRODUCT_CHOICES, default="energy")
        start = AwareDateTimeField()
        end = AwareDateTimeField()

    def get(self, request):
        q = self.QuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        s = selectors.price_signal(**q.validated_data)
        out = {k: (None if v is None else str(v) if isinstance(v, Decimal) else v) for k, v in s.__dict__.items()}
        return Response(out)


class ClearingRerunApi(APIView):
    """Operators and admins: re-run a stored clearing from its stored inputs and compare."""

    permission_classes = [HasRole]
    allowed_roles = (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)

    def get(self, request, pk: int):
        run = selectors.clearing_runs_visible_to(request.user).filter(pk=pk).first()
        if run is None:
            raise NotFound("No such clearing run.")
        r = services.clearing_rerun(run=run)
        return Response(
            {
                "run": run.pk,
                "rule_version": run.rule_version,
                "identical": r.identical,
                "stored": r.stored,
                "recomputed": r.recomputed,
            }
        )


class ArbitrageApi(APIView):
    """Participants: the cost-optimal battery/EV schedule over a price curve, and the offers it makes."""

    permission_classes = [HasRole]
    allowed_roles = SELLER_ROLES

    class InputSerializer(serializers.Serializer):
        prices_per_mwh = serializers.ListField(
            child=serializers.DecimalField(max_digits=12, decimal_places=2), min_length=1, max_length=96 * 7
        )
        start = AwareDateTimeField()
        interval_minutes = serializers.IntegerField()
        capacity_kwh = serializers.FloatField(min_value=0.001)
        max_charge_kw = serializers.FloatField(min_value=0)
        max_discharge_kw = serializers.FloatField(min_value=0, default=0)
        efficiency_charge = serializers.FloatField(min_value=0.01, max_value=1, default=0.95)
        efficiency_discharge = serializers.FloatField(min_value=0.01, max_value=1, default=0.95)
        initial_kwh = serializers.FloatField(min_value=0, default=0)
        target_kwh = serializers.FloatField(min_value=0, default=0)
        deadline_index = serializers.IntegerField(min_value=0, required=False, allow_null=True)

    def post(self, request):
        from .engine.arbitrage import Device

        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        prices, start, minutes = v.pop("prices_per_mwh"), v.pop("start"), v.pop("interval_minutes")
        plan = services.arbitrage_plan(prices_per_mwh=prices, start=start, interval_minutes=minutes, device=Device(**v))
        return Response(plan)


urlpatterns += [
    path("orders/", OrderListCreateApi.as_view(), name="orders"),
    path("orders/<int:pk>/cancel/", OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:pk>/modify/", OrderModifyApi.as_view(), name="order-modify"),
    path("positions/", PositionsApi.as_view(), name="positions"),
    path("auctions/", AuctionListCreateApi.as_view(), name="auctions"),
    path("prices/", PublishedPricesApi.as_view(), name="prices"),
    path("price-signal/", PriceSignalApi.as_view(), name="price-signal"),
    path("runs/<int:pk>/rerun/", ClearingRerunApi.as_view(), name="run-rerun"),
    path("arbitrage/", ArbitrageApi.as_view(), name="arbitrage"),
]
