"""Compensation API: settlement runs, disputes, balances, staking, governance, withdrawals, statements, tax."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import policies
from accounts.models import Membership, Organisation
from accounts.permissions import HasRole
from flexplatform.api import AwareDateTimeField, idempotent_post, list_schema, paginated
from flexplatform.errors import ApplicationError, NotFound

from . import assets, selectors
from .models import Dispute, Proposal, SettlementItem, SettlementRun, Stake, Withdrawal
from .services import disputes, governance, staking, statements
from .services.runs import settlement_run_execute

R = Membership.Role
PARTICIPANTS = (R.CONSUMER, R.AGGREGATOR)


def _org(request):
    return policies.require_acting_organisation(request.user, PARTICIPANTS)


def _read_scope(request) -> list | None:
    """The organisations whose records a read shows: a participant's own; for admins and auditors (who read
    everything) the one named by ``?organisation=<id>``, or every organisation (None) when none is named."""
    if not policies.reads_everything(request.user):
        return [_org(request)]
    raw = request.query_params.get("organisation")
    if raw in (None, ""):
        return None
    org = Organisation.objects.filter(pk=int(raw) if raw.isdigit() and len(raw) < 19 else 0).first()
    if org is None:
        raise NotFound("No such organisation.", fields={"organisation": ["Unknown organisation id."]})
    return [org]


def _read_org(request) -> Organisation:
    """One organisation for a read about one (balances, statements): a participant's own; the one admins and
    auditors name with ``?organisation=<id>``."""
    scope = _read_scope(request)
    if scope is None:
        raise ApplicationError(
            "Name the organisation to read: ?organisation=<id>.", fields={"organisation": ["Required."]}
        )
    return scope[0]


ORGANISATION_PARAM = OpenApiParameter(
    "organisation", int, description="Admins and auditors: the organisation to read (its id)."
)


def _disputes_visible_to(user):
    qs = Dispute.objects.all()
    orgs = policies.organisation_scope(user)
    return qs if orgs is None else qs.filter(item__payee__in=orgs)


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SettlementRun
        fields = [
            "id",
            "window_start",
            "window_end",
            "trigger",
            "status",
            "attempts",
            "items_created",
            "last_attempt_items",
            "totals",
            "finished_at",
        ]


class RunListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.ADMIN,)

    class InputSerializer(serializers.Serializer):
        window_start = AwareDateTimeField()
        window_end = AwareDateTimeField()

    @list_schema(RunSerializer)
    def get(self, request):
        return paginated(request, SettlementRun.objects.all(), RunSerializer)

    @extend_schema(request=InputSerializer, responses=RunSerializer)
    def post(self, request):
        def handler():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            return Response(RunSerializer(settlement_run_execute(**data.validated_data)).data, status=201)

        return idempotent_post(request, "settlement-run", handler)


class DisputeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dispute
        fields = [
            "id",
            "item",
            "reason",
            "status",
            "resolution",
            "adjustment_amount",
            "adjustment_item",
            "created_at",
            "resolved_at",
        ]


class DisputeListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (*PARTICIPANTS, R.ADMIN)

    @list_schema(DisputeSerializer)
    def get(self, request):
        qs = _disputes_visible_to(request.user)
        return paginated(request, qs, DisputeSerializer)


class DisputeOpenApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses=DisputeSerializer)
    def post(self, request, pk: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        orgs = policies.organisations(request.user)
        item = get_object_or_404(SettlementItem, pk=pk, payee__in=orgs)
        d = disputes.dispute_open(
            item=item, user=request.user, organisations=orgs, reason=data.validated_data["reason"]
        )
        return Response(DisputeSerializer(d).data, status=201)


class DisputeResolveApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.ADMIN,)

    class InputSerializer(serializers.Serializer):
        uphold = serializers.BooleanField()
        resolution = serializers.CharField(max_length=2000)
        adjustment = serializers.DecimalField(max_digits=18, decimal_places=2, required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses=DisputeSerializer)
    def post(self, request, pk: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = disputes.dispute_resolve(dispute_id=pk, admin=request.user, **data.validated_data)
        return Response(DisputeSerializer(d).data)


class DisputeHistoryApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (*PARTICIPANTS, R.ADMIN)

    @extend_schema(responses=dict)
    def get(self, request, pk: int):
        from .models import AuditRecord

        d = get_object_or_404(_disputes_visible_to(request.user), pk=pk)
        history = AuditRecord.objects.filter(object_type="dispute", object_id=d.pk).values("action", "at", "data")
        return Response({"dispute": DisputeSerializer(d).data, "history": list(history)})


class BalanceApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    @extend_schema(responses=dict, parameters=[ORGANISATION_PARAM])
    def get(self, request):
        org = _read_org(request)
        return Response(
            {a: {k: str(v) for k, v in b.items()} for a, b in selectors.token_balances(organisation=org).items()}
            | {"staked_collateral": str(staking.staked_collateral(org))}
        )


class StakeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stake
        fields = ["id", "asset", "amount", "locked_from", "locked_until", "status"]


class StakeListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    class InputSerializer(serializers.Serializer):
        asset = serializers.ChoiceField(choices=assets.TOKENS)
        amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0)
        locked_until = AwareDateTimeField()

    @list_schema(StakeSerializer, parameters=[ORGANISATION_PARAM])
    def get(self, request):
        orgs = _read_scope(request)
        qs = Stake.objects.all() if orgs is None else Stake.objects.filter(organisation__in=orgs)
        return paginated(request, qs, StakeSerializer)

    @extend_schema(request=InputSerializer, responses=StakeSerializer)
    def post(self, request):
        def handler():
            org = _org(request)
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            key = request.headers.get("Idempotency-Key") or f"{request.user.pk}:{data.validated_data}"
            stake = staking.stake_lock(
                organisation=org, business_key=f"api:{org.pk}:{key}", actor=request.user, **data.validated_data
            )
            return Response(StakeSerializer(stake).data, status=201)

        return idempotent_post(request, "settlement-stake", handler)


class StakeReleaseApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    @extend_schema(request=None, responses=StakeSerializer)
    def post(self, request, pk: int):
        stake = get_object_or_404(Stake, pk=pk, organisation=_org(request))
        return Response(StakeSerializer(staking.stake_release(stake_id=stake.pk, actor=request.user)).data)


class ProposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Proposal
        fields = [
            "id",
            "parameter",
            "old_value",
            "new_value",
            "rationale",
            "proposer",
            "voting_starts",
            "voting_ends",
            "quorum_weight",
            "weight_for",
            "weight_against",
            "status",
            "executed_at",
        ]


class ProposalListApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (*PARTICIPANTS, R.ADMIN, R.GRID_OPERATOR)

    class InputSerializer(serializers.Serializer):
        parameter = serializers.CharField()
        new_value = serializers.DecimalField(max_digits=18, decimal_places=6)
        rationale = serializers.CharField(required=False, allow_blank=True, default="")
        voting_days = serializers.IntegerField(required=False, default=7)

    @list_schema(ProposalSerializer)
    def get(self, request):
        return paginated(request, Proposal.objects.all(), ProposalSerializer)

    @extend_schema(request=InputSerializer, responses=ProposalSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        p = governance.proposal_create(proposer=_org(request), actor=request.user, **data.validated_data)
        return Response(ProposalSerializer(p).data, status=201)


class VoteApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    class InputSerializer(serializers.Serializer):
        support = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request, pk: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vote = governance.vote_cast(
            proposal_id=pk, voter=_org(request), support=data.validated_data["support"], actor=request.user
        )
        return Response({"proposal": pk, "support": vote.support, "weight": str(vote.weight)}, status=201)


class ProposalExecuteApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.ADMIN,)

    @extend_schema(request=None, responses=ProposalSerializer)
    def post(self, request, pk: int):
        p = get_object_or_404(Proposal, pk=pk)
        if p.status == Proposal.Status.OPEN:
            p = governance.proposal_tally(proposal_id=pk)
        return Response(ProposalSerializer(governance.proposal_execute(proposal_id=pk, actor=request.user)).data)


class ParameterApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request):
        return Response({k: str(v) for k, v in selectors.market_parameters().items()})


class WithdrawalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Withdrawal
        fields = ["id", "asset", "amount", "to_address", "status", "created_at"]


class WithdrawalListApi(APIView):
    """Token withdrawals recorded before on-chain claims (history only; tokens are now claimed, ADR 0023)."""

    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    @list_schema(WithdrawalSerializer, parameters=[ORGANISATION_PARAM])
    def get(self, request):
        orgs = _read_scope(request)
        qs = Withdrawal.objects.all() if orgs is None else Withdrawal.objects.filter(organisation__in=orgs)
        return paginated(request, qs, WithdrawalSerializer)


class StatementApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = PARTICIPANTS

    @extend_schema(responses=bytes, parameters=[ORGANISATION_PARAM])
    def get(self, request, year: str, month: str, fmt: str):
        year, month = int(year), int(month)
        if not 1 <= month <= 12:
            raise ApplicationError("Month 1-12.", fields={"month": ["1-12"]})
        s = statements.statement_build(organisation=_read_org(request), year=year, month=month)
        name = f"statement-{year}-{month:02d}.{fmt}"
        if fmt == "pdf":
            response = HttpResponse(statements.statement_pdf(s), content_type="application/pdf")
        else:
            response = HttpResponse(statements.statement_csv(s), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class TaxReportApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.ADMIN,)

    @extend_schema(responses=bytes)
    def get(self, request, year: str, profile: str):
        year = int(year)
        if profile not in statements.TAX_PROFILES:
            raise ApplicationError("Unknown profile.", fields={"profile": list(statements.TAX_PROFILES)})
        report = statements.tax_report(year=year, profile=profile)
        response = HttpResponse(statements.tax_report_csv(report), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="tax-{profile}-{year}.csv"'
        return response


urlpatterns = [
    path("runs/", RunListApi.as_view(), name="runs"),
    path("disputes/", DisputeListApi.as_view(), name="disputes"),
    path("disputes/<int:pk>/", DisputeHistoryApi.as_view(), name="dispute-detail"),
    path("disputes/<int:pk>/resolve/", DisputeResolveApi.as_view(), name="dispute-resolve"),
    path("items/<int:pk>/disputes/", DisputeOpenApi.as_view(), name="item-dispute"),
    path("balances/", BalanceApi.as_view(), name="balances"),
    path("stakes/", StakeListApi.as_view(), name="stakes"),
    path("stakes/<int:pk>/release/", StakeReleaseApi.as_view(), name="stake-release"),
    path("proposals/", ProposalListApi.as_view(), name="proposals"),
    path("proposals/<int:pk>/votes/", VoteApi.as_view(), name="proposal-vote"),
    path("proposals/<int:pk>/execute/", ProposalExecuteApi.as_view(), name="proposal-execute"),
    path("parameters/", ParameterApi.as_view(), name="parameters"),
    path("withdrawals/", WithdrawalListApi.as_view(), name="withdrawals"),
    re_path(
        r"^statements/(?P<year>[0-9]{4})/(?P<month>[0-9]{1,2})\.(?P<fmt>csv|pdf)$",
        StatementApi.as_view(),
        name="statement",
    ),
    re_path(r"^tax/(?P<year>[0-9]{4})/(?P<profile>[a-z0-9_]+)\.csv$", TaxReportApi.as_view(), name="tax-report"),
]
