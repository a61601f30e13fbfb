from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from flexplatform.errors import ApplicationError

from . import hooks
from .audit import audit_entries
from .kyc.documents import verification_document_open
from .kyc.services import verification_case_decide
from .models import (
    AuditEntry,
    Consent,
    Enrolment,
    GridZone,
    Membership,
    Meter,
    Organisation,
    Premise,
    VerificationCase,
    VerificationDecision,
    VerificationDocument,
    WalletLink,
)


@admin.register(GridZone)
class GridZoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    filter_horizontal = ["service_zones"]
    inlines = [MembershipInline]
    readonly_fields = ["compliance"]

    @admin.display(description="Compliance status (failing rules)")
    def compliance(self, obj):
        from django.utils.html import format_html, format_html_join

        from .selectors import compliance_status

        if obj.pk is None or obj.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
            return "—"
        status = compliance_status(obj)
        failing = format_html_join("", "<li>{}: {}</li>", ((r["rule"], r["detail"]) for r in status["failing"]))
        verdict = "May trade." if status["may_trade"] else "Trading suspended."
        return format_html("<p>{}</p><ul>{}</ul>", verdict, failing) if status["failing"] else verdict


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organisation__name"]
    raw_id_fields = ["user", "organisation"]


class MeterInline(admin.TabularInline):
    model = Meter
    extra = 0
    fields = ["meter_id", "kind", "interval_minutes", "has_export_channel", "timezone", "validation"]
    readonly_fields = ["validation"]

    @admin.display(description="Validation")
    def validation(self, obj):
        return _meter_validation(obj)


def _meter_validation(meter) -> str:
    """Validation is assessment's fact, lent to accounts at start-up (``accounts.hooks``)."""
    return hooks.metering().meter_validation(meter) if meter.pk else "not checked yet"


@admin.register(Premise)
class PremiseAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "segment", "grid_zone", "aggregator", "timezone"]
    list_filter = ["segment", "grid_zone", "aggregator"]
    search_fields = ["name", "organisation__name", "address"]
    raw_id_fields = ["organisation"]
    inlines = [MeterInline]


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ["meter_id", "premise", "kind", "interval_minutes", "timezone", "validated", "created_at"]
    list_filter = ["kind", "interval_minutes", "status__validated"]
    search_fields = ["meter_id", "premise__name"]
    raw_id_fields = ["premise"]
    readonly_fields = ["validation"]
    list_select_related = ["premise", "status"]

    @admin.display(boolean=True, description="Validated", ordering="status__validated")
    def validated(self, obj):
        status = getattr(obj, "status", None)
        return bool(status and status.validated)

    @admin.display(description="Validation (why not)")
    def validation(self, obj):
        return _meter_validation(obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Status changes go through services; the admin shows records, it does not edit them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VerificationDocumentInline(admin.TabularInline):
    model = VerificationDocument
    extra = 0
    can_delete = False
    readonly_fields = ["doc_type", "number", "issuing_country", "holder_name", "expires_on", "document", "uploaded_at"]
    fields = readonly_fields

    @admin.display(description="File")
    def document(self, obj):
        """A link to the private download route (the file itself has no URL: accounts/storage.py)."""
        if not obj.file:
            return "— (no file uploaded)"
        url = reverse("admin:accounts_verificationcase_document", args=[obj.case_id, obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open {}</a>', url, obj.file.name.rsplit("/", 1)[-1]
        )

    def has_add_permission(self, request, obj=None):
        return False


class VerificationDecisionInline(admin.TabularInline):
    model = VerificationDecision
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "provider", "outcome", "reasons", "decided_by"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept with the decision and audited.")


@admin.register(VerificationCase)
class VerificationCaseAdmin(ReadOnlyAdmin):
    """The KYC review queue: filter on "In review"; open a case and decide it with a reason."""

    list_display = ["id", "legal_name", "organisation", "kind", "level", "status", "submitted_at", "verified_until"]
    list_filter = ["status", "kind", "level"]
    search_fields = ["legal_name", "organisation__name", "documents__number"]
    readonly_fields = [
        "organisation",
        "subject_user",
        "kind",
        "level",
        "legal_name",
        "status",
        "review_flags",
        "created_at",
        "submitted_at",
        "decided_at",
        "verified_until",
    ]
    inlines = [VerificationDocumentInline, VerificationDecisionInline]
    change_form_template = "admin/accounts/verificationcase/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="accounts_verificationcase_decide",
            ),
            path(
                "<int:pk>/documents/<int:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name="accounts_verificationcase_document",
            ),
        ] + super().get_urls()

    def document_view(self, request, pk, document_id):
        """Streams an uploaded document to a reader the policy allows (admins, auditors); 404 otherwise."""
        try:
            doc = verification_document_open(user=request.user, document_id=document_id)
        except ApplicationError as exc:
            raise Http404(exc.detail) from exc
        return FileResponse(
            doc.file, as_attachment=not doc.inline, filename=doc.filename, content_type=doc.content_type
        )

    def changelist_view(self, request, extra_context=None):
        if "status__exact" not in request.GET and not request.GET:
            return redirect(reverse("admin:accounts_verificationcase_changelist") + "?status__exact=in_review")
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        case = get_object_or_404(VerificationCase, pk=object_id)
        extra_context["decision_form"] = DecisionForm() if case.status == VerificationCase.Status.IN_REVIEW else None
        extra_context["audit"] = audit_entries(subject_type=AuditEntry.Subject.VERIFICATION_CASE, subject_id=case.pk)
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, pk):
        case = get_object_or_404(VerificationCase, pk=pk)
        form = DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                verification_case_decide(
                    case=case,
                    reviewer=request.user,
                    approve=form.cleaned_data["decision"] == "approve",
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, f"Case {case.pk} ({case.legal_name}): {form.cleaned_data['decision']}d.")
                return redirect(reverse("admin:accounts_verificationcase_change", args=[case.pk]))
        context = {
            **self.admin_site.each_context(request),
            "case": case,
            "decision_form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/verificationcase/decide.html", context)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["id", "premise", "aggregator", "purpose", "status", "granted_at", "expires_at", "revoked_at"]
    list_filter = ["status", "purpose", "aggregator"]
    search_fields = ["premise__name", "aggregator__name"]


@admin.register(Enrolment)
class EnrolmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "premise", "aggregator", "service", "status", "starts_at", "ends_at"]
    list_filter = ["status", "service", "aggregator"]
    search_fields = ["premise__name", "aggregator__name"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "subject_type", "subject_id", "organisation", "actor", "from_status", "to_status", "reason"]
    list_filter = ["subject_type", "to_status"]
    search_fields = ["reason", "organisation__name", "actor__email"]


@admin.register(WalletLink)
class WalletLinkAdmin(ReadOnlyAdmin):
    list_display = ["user", "address", "linked_at"]
    search_fields = ["address", "user__email"]


# Devices
from .models import Device  # noqa: E402


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "premise", "kind", "control_channel", "rated_kw", "min_kw", "max_kw", "active"]
    list_filter = ["kind", "control_channel", "active"]
    search_fields = ["name", "premise__name", "channel_address"]
    raw_id_fields = ["premise"]
    readonly_fields = ["counted_kw"]

    @admin.display(description="Counted kW (60-minute event)")
    def counted_kw(self, obj):
        from .device_services import device_capability

        if obj.pk is None:
            return "—"
        cap = device_capability(obj)
        return f"{cap.kw} kW — " + " ".join(cap.reasons)
