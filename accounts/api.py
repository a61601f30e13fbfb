"""Accounts API: premises, API tokens (MFA for operators and admins), KYC cases, consents and enrolments,
verified resources for operators, compliance status, the audit trail, wallet linking (EIP-4361)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from flexplatform.api import AwareDateTimeField, PlausibleDateField, list_schema, paginated

from . import consents as consent_services
from . import policies, selectors, wallets
from .audit import audit_entries
from .kyc import services as kyc
from .models import Consent, Enrolment, Membership, Organisation, VerificationCase, VerificationDocument
from .permissions import HasRole
from .policies import premises_visible_to

R = Membership.Role
READ_ALL = (R.ADMIN, R.AUDITOR)


class PremiseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    segment = serializers.CharField()
    zone = serializers.CharField(source="grid_zone.code")
    timezone = serializers.CharField()
    organisation = serializers.CharField(source="organisation.name")
    aggregator = serializers.CharField(source="aggregator.name", default=None, allow_null=True)  # none enrolled


class PremiseListApi(APIView):
    @list_schema(PremiseOutputSerializer)
    def get(self, request):
        return paginated(request, premises_visible_to(request.user).order_by("pk"), PremiseOutputSerializer)


# --- KYC -----------------------------------------------------------------------------------------------------


class DocumentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = VerificationDocument
        fields = ["id", "doc_type", "number", "issuing_country", "holder_name", "expires_on", "uploaded_at"]


class CaseOutputSerializer(serializers.ModelSerializer):
    documents = DocumentOutputSerializer(many=True, read_only=True)
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = VerificationCase
        fields = [
            "id",
            "organisation",
            "kind",
            "level",
            "legal_name",
            "status",
            "review_flags",
            "submitted_at",
            "decided_at",
            "verified_until",
            "documents",
            "decisions",
        ]

    def get_decisions(self, case) -> list[dict]:
        return [
            {"provider": d.provider, "outcome": d.outcome, "reasons": d.reasons, "at": d.created_at}
            for d in case.decisions.all()
        ]


def _own_case(request, pk) -> VerificationCase:
    orgs = [o.pk for o in policies.organisations(request.user, role=policies.role(request.user))]
    return get_object_or_404(VerificationCase, pk=pk, organisation_id__in=orgs)


class CaseListCreateApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.CONSUMER, R.AGGREGATOR)

    class InputSerializer(serializers.Serializer):
        legal_name = serializers.CharField(max_length=200)
        level = serializers.ChoiceField(choices=VerificationCase.Level.choices, required=False)

    @list_schema(CaseOutputSerializer)
    def get(self, request):
        org = policies.acting_organisation(request.user)
        cases = VerificationCase.objects.filter(organisation=org).prefetch_related("documents", "decisions")
        return paginated(request, cases, CaseOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: CaseOutputSerializer})
    def post(self, request):
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        org = policies.acting_organisation(request.user)
        case = kyc.verification_case_create(organisation=org, by=request.user, **s.validated_data)
        return Response(CaseOutputSerializer(case).data, status=status.HTTP_201_CREATED)


class CaseDocumentApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.CONSUMER, R.AGGREGATOR)

    class InputSerializer(serializers.Serializer):
        doc_type = serializers.ChoiceField(choices=VerificationDocument.DocType.choices)
        number = serializers.CharField(max_length=64)
        holder_name = serializers.CharField(max_length=200)
        issuing_country = serializers.CharField(max_length=2, required=False, default="")
        expires_on = PlausibleDateField(required=False, allow_null=True)
        file = serializers.FileField(required=False)

    @extend_schema(request=InputSerializer, responses={201: DocumentOutputSerializer})
    def post(self, request, pk):
        case = _own_case(request, pk)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        doc = kyc.verification_document_add(case=case, by=request.user, **s.validated_data)
        return Response(DocumentOutputSerializer(doc).data, status=status.HTTP_201_CREATED)


class CaseSubmitApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.CONSUMER, R.AGGREGATOR)

    @extend_schema(request=None, responses=CaseOutputSerializer)
    def post(self, request, pk):
        case = kyc.verification_case_submit(case=_own_case(request, pk), by=request.user)
        return Response(CaseOutputSerializer(case).data)


# --- Consent and enrolment ----------------------------------------------------------------------------------


class ConsentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = [
            "id",
            "premise",
            "aggregator",
            "scopes",
            "purpose",
            "status",
            "granted_at",
            "expires_at",
            "revoked_at",
        ]


class ConsentListCreateApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.CONSUMER, R.AGGREGATOR, *READ_ALL)

    class InputSerializer(serializers.Serializer):
        premise = serializers.IntegerField()
        aggregator = serializers.PrimaryKeyRelatedField(
            queryset=Organisation.objects.filter(kind=Organisation.Kind.AGGREGATOR)
        )
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=Consent.Scope.choices), min_length=1)
        purpose = serializers.ChoiceField(
            choices=Consent.Purpose.choices, default=Consent.Purpose.FLEXIBILITY_AGGREGATION
        )
        expires_at = AwareDateTimeField()
        terms = serializers.IntegerField(
            required=False, allow_null=True, help_text="The aggregator's current commercial terms id, accepted."
        )

    @list_schema(ConsentOutputSerializer)
    def get(self, request):
        return paginated(request, policies.consents_visible_to(request.user), ConsentOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: ConsentOutputSerializer})
    def post(self, request):
        policies.require_role(request.user, (R.CONSUMER,), "Only the premise owner gives consent.")
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        premise = get_object_or_404(premises_visible_to(request.user), pk=v["premise"])
        consent = consent_services.consent_grant(
            premise=premise,
            aggregator=v["aggregator"],
            by=request.user,
            scopes=v["scopes"],
            purpose=v["purpose"],
            expires_at=v["expires_at"],
            terms=v.get("terms"),
        )
        return Response(ConsentOutputSerializer(consent).data, status=status.HTTP_201_CREATED)


class ConsentRevokeApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (R.CONSUMER,)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, default="", allow_blank=True)

    @extend_schema(request=InputSerializer, responses=ConsentOutputSerializer)
    def post(self, request, pk):
        orgs = policies.organisations(request.user, role=R.CONSUMER)
        consent = get_object_or_404(Consent, pk=pk, premise__organisation__in=orgs)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        consent = consent_services.consent_revoke(consent=consent, by=request.user, reason=s.validated_data["reason"])
        return Response(ConsentOutputSerializer(consent).data)


class EnrolmentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Enrolment
        fields = ["id", "premise", "aggregator", "consent", "service", "starts_at", "ends_at", "status", "created_at"]


class EnrolmentListCreateApi(APIView):
    """Aggregators enroll premises whose owners have consented to them."""

    permission_classes = [HasRole]
    allowed_roles = (R.AGGREGATOR, *READ_ALL)

    class InputSerializer(serializers.Serializer):
        premise = serializers.IntegerField()
        service = serializers.ChoiceField(
            choices=Enrolment.Service.choices, default=Enrolment.Service.LOCAL_FLEXIBILITY
        )
        starts_at = AwareDateTimeField(required=False)
        ends_at = AwareDateTimeField(required=False)

    @list_schema(EnrolmentOutputSerializer)
    def get(self, request):
        return paginated(request, policies.enrolments_visible_to(request.user), EnrolmentOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: EnrolmentOutputSerializer})
    def post(self, request):
        policies.require_role(request.user, (R.AGGREGATOR,), "Only aggregators enroll premises.")
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        aggregator = policies.acting_organisation(request.user, R.AGGREGATOR)
        # Only premises that consented to this aggregator are visible to it: anything else is "not found".
        premise = get_object_or_404(premises_visible_to(request.user), pk=v.pop("premise"))
        enrolment = consent_services.enrolment_create(premise=premise, aggregator=aggregator, by=request.user, **v)
        return Response(EnrolmentOutputSerializer(enrolment).data, status=status.HTTP_201_CREATED)


class VerifiedResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    segment = serializers.CharField()
    zone = serializers.CharField()
    seller = serializers.CharField()
    owner_verified_until = serializers.DateTimeField()
    meter_validated_at = serializers.DateTimeField(allow_null=True)


class VerifiedResourcesApi(APIView):
    """Resources in the operator's service area (its zones and every zone below) that may be offered now: owner
    verified, seller allowed to trade, revenue meter validated (enough clean history)."""

    permission_classes = [HasRole]
    allowed_roles = (R.GRID_OPERATOR, *READ_ALL)

    @list_schema(VerifiedResourceSerializer)
    def get(self, request):
        return paginated(request, selectors.verified_resources_for(request.user), VerifiedResourceSerializer)


class ComplianceStatusApi(APIView):
    """The caller's organisation's compliance status: every rule with its result, the failing ones (e.g. a premise
    whose meter is not validated; an aggregation below the ISO's FERC Order 2222 minimum size), whether it may
    trade, and an aggregator's portfolio kW per ISO against that ISO's minimum."""

    permission_classes = [HasRole]
    allowed_roles = (R.CONSUMER, R.AGGREGATOR)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        org = policies.acting_organisation(request.user)
        status = selectors.compliance_status(org)
        for row in status["aggregations"]:
            row["kw"], row["minimum_kw"] = str(row["kw"]), str(row["minimum_kw"])
        return Response(status)


class AuditListApi(APIView):
    """The audit trail of verification, consent, enrolment and wallet status changes (admins and auditors)."""

    permission_classes = [HasRole]
    allowed_roles = READ_ALL

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        subject_type = serializers.CharField()
        subject_id = serializers.IntegerField()
        organisation = serializers.IntegerField(source="organisation_id", allow_null=True)
        actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
        from_status = serializers.CharField()
        to_status = serializers.CharField()
        reason = serializers.CharField()
        at = serializers.DateTimeField()

    @list_schema(OutputSerializer)
    def get(self, request):
        qs = audit_entries(subject_type=request.query_params.get("subject_type"))
        return paginated(request, qs, self.OutputSerializer)


class WalletNonceApi(APIView):
    class InputSerializer(serializers.Serializer):
        address = serializers.CharField(max_length=42)
        chain_id = serializers.IntegerField(default=1)

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        nonce = wallets.wallet_nonce_issue(
            user=request.user,
            address=s.validated_data["address"],
            domain=request.get_host(),
            uri=request.build_absolute_uri("/"),
            chain_id=s.validated_data["chain_id"],
        )
        return Response({"message": nonce.message, "nonce": nonce.nonce, "expires_at": nonce.expires_at}, status=201)


class WalletLinkApi(APIView):
    class InputSerializer(serializers.Serializer):
        message = serializers.CharField()
        signature = serializers.CharField(max_length=200)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        link = wallets.wallet_link(user=request.user, domain=request.get_host(), **s.validated_data)
        return Response({"address": link.address, "linked_at": link.linked_at})


urlpatterns = [
    path("premises/", PremiseListApi.as_view(), name="premises"),
    path("kyc/cases/", CaseListCreateApi.as_view(), name="kyc-cases"),
    path("kyc/cases/<int:pk>/documents/", CaseDocumentApi.as_view(), name="kyc-case-documents"),
    path("kyc/cases/<int:pk>/submit/", CaseSubmitApi.as_view(), name="kyc-case-submit"),
    path("consents/", ConsentListCreateApi.as_view(), name="consents"),
    path("consents/<int:pk>/revoke/", ConsentRevokeApi.as_view(), name="consent-revoke"),
    path("enrolments/", EnrolmentListCreateApi.as_view(), name="enrolments"),
    path("resources/verified/", VerifiedResourcesApi.as_view(), name="verified-resources"),
    path("compliance/", ComplianceStatusApi.as_view(), name="compliance"),
    path("audit/", AuditListApi.as_view(), name="audit"),
    path("wallet/nonce/", WalletNonceApi.as_view(), name="wallet-nonce"),
    path("wallet/link/", WalletLinkApi.as_view(), name="wallet-link"),
]

# API tokens (accounts/api_tokens.py).
from .api_tokens import urlpatterns as token_urlpatterns  # noqa: E402

urlpatterns += token_urlpatterns

# Devices (accounts/device_api.py).
from .device_api import urlpatterns as device_urlpatterns  # noqa: E402

urlpatterns += device_urlpatterns
