"""Portal views: thin callers of selectors, one dashboard per role."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from . import dashboards
from .models import Membership
from .selectors import user_role

ROLE_HOME = {
    Membership.Role.CONSUMER: "portal:consumer",
    Membership.Role.AGGREGATOR: "portal:aggregator",
    Membership.Role.GRID_OPERATOR: "portal:operator",
    Membership.Role.ADMIN: "portal:operator",
}


def home(request):
    role = user_role(request.user)
    if role in ROLE_HOME:
        return redirect(ROLE_HOME[role])
    return render(request, "portal/home.html", {"market": dashboards.public_market_summary()})


def _require(request, *roles):
    if user_role(request.user) not in roles:
        raise PermissionDenied("This page is for another role.")


@login_required
def consumer_dashboard(request):
    _require(request, Membership.Role.CONSUMER)
    context = dashboards.consumer_dashboard(user=request.user, currency=settings.SETTLEMENT_CURRENCY)
    return render(request, "portal/consumer.html", context)


@login_required
def aggregator_dashboard(request):
    _require(request, Membership.Role.AGGREGATOR)
    return render(request, "portal/aggregator.html", dashboards.aggregator_dashboard(user=request.user))


@login_required
def operator_console(request):
    _require(request, Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)
    return render(request, "portal/operator.html", dashboards.operator_console(user=request.user))


@login_required
def onboarding(request, step: str | None = None):
    """The onboarding wizard: account -> premise -> meter -> consent (optional) -> devices -> KYC upload, with
    visible progress. Each step posts to the service that owns it; a device shows its assessed capability."""
    from datetime import timedelta as _td

    from django import forms

    from flexplatform.errors import ApplicationError

    from . import consents, services
    from . import onboarding as ob
    from .device_services import device_capability, device_register
    from .forms import DeviceForm, MeterForm
    from .kyc import services as kyc
    from .models import Consent, Device, GridZone, Organisation, Premise, VerificationCase, VerificationDocument

    progress = ob.onboarding_progress(request.user)
    step = step or progress["current"] or "kyc"
    org = progress["organisation"]
    if step != "account" and org is None:
        return redirect("portal:onboarding-step", step="account")
    own_premises = Premise.objects.filter(organisation=org)

    class AccountForm(forms.Form):
        name = forms.CharField(max_length=200, label="Household or business name")

    class PremiseForm(forms.Form):
        name = forms.CharField(max_length=200)
        segment = forms.ChoiceField(choices=Premise.Segment.choices)
        grid_zone = forms.ModelChoiceField(queryset=GridZone.objects.filter(kind=GridZone.Kind.FEEDER))
        address = forms.CharField(max_length=300)
        utility_account_number = forms.CharField(max_length=64)
        utility_account_holder = forms.CharField(max_length=200)
        tariff = forms.CharField(max_length=64, required=False)
        timezone = forms.CharField(max_length=64, initial="America/New_York")

    class ConsentForm(forms.Form):
        premise = forms.ModelChoiceField(queryset=own_premises)
        aggregator = forms.ModelChoiceField(queryset=Organisation.objects.filter(kind=Organisation.Kind.AGGREGATOR))
        scopes = forms.MultipleChoiceField(choices=Consent.Scope.choices, widget=forms.CheckboxSelectMultiple)
        months = forms.IntegerField(min_value=1, max_value=36, initial=12, label="Valid for (months)")

    class KycForm(forms.Form):
        legal_name = forms.CharField(max_length=200)
        doc_type = forms.ChoiceField(choices=VerificationDocument.DocType.choices)
        number = forms.CharField(max_length=64)
        issuing_country = forms.CharField(max_length=2, initial="US")
        expires_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
        file = forms.FileField(required=False)

    forms_by_step = {
        "account": AccountForm,
        "premise": PremiseForm,
        "meter": MeterForm,
        "consent": ConsentForm,
        "devices": DeviceForm,
        "kyc": KycForm,
    }
    form_class = forms_by_step.get(step)
    if form_class is None:
        raise PermissionDenied("Unknown step.")
    extra = {"premises": own_premises} if step in ("meter", "devices") else {}
    form = form_class(request.POST or None, request.FILES or None, **extra)
    if request.method == "POST" and form.is_valid():
        d = dict(form.cleaned_data)
        try:
            if step == "account":
                ob.consumer_organisation_register(user=request.user, name=d["name"])
            elif step == "premise":
                services.premise_create(organisation=org, **d)
            elif step == "meter":
                services.meter_create(**d)
            elif step == "consent":
                consents.consent_grant(
                    premise=d["premise"],
                    aggregator=d["aggregator"],
                    by=request.user,
                    scopes=d["scopes"],
                    expires_at=timezone.now() + _td(days=30 * d["months"]),
                )
            elif step == "devices":
                premise = d.pop("premise")
                device = device_register(
                    premise=premise,
                    user=request.user,
                    name=d.pop("name"),
                    kind=d.pop("kind"),
                    control_channel=d.pop("control_channel"),
                    **d,
                )
            else:
                case = VerificationCase.objects.filter(organisation=org, status=VerificationCase.Status.DRAFT).first()
                case = case or kyc.verification_case_create(
                    organisation=org, legal_name=d["legal_name"], by=request.user
                )
                kyc.verification_document_add(
                    case=case,
                    doc_type=d["doc_type"],
                    number=d["number"],
                    holder_name=d["legal_name"],
                    issuing_country=d["issuing_country"],
                    expires_on=d["expires_on"],
                    file=d["file"],
                    by=request.user,
                )
                kyc.verification_case_submit(case=case, by=request.user)
        except ApplicationError as exc:
            form.add_error(None, exc.detail)
            for field, msgs in exc.fields.items():
                for m in msgs:
                    form.add_error(field if field in form.fields else None, m)
        else:
            if step == "devices":  # stay on the step: show what the platform counts for the new device
                return redirect(f"{reverse('portal:onboarding-step', args=['devices'])}?device={device.pk}")
            return redirect("portal:onboarding")
    assessed = None
    if step == "devices" and request.GET.get("device", "").isdigit():
        device = Device.objects.filter(premise__in=own_premises, pk=int(request.GET["device"])).first()
        if device is not None:
            assessed = {"device": device, "capability": device_capability(device)}
    context = {**ob.onboarding_progress(request.user), "step": step, "form": form, "assessed": assessed}
    return render(request, "portal/onboarding.html", context)


@login_required
def compliance_page(request):
    """The participant's compliance status: may it trade, the failing rules with their numbers, the portfolio
    per ISO against the FERC Order 2222 minimum (aggregators), each premise's meter validation."""
    from .selectors import compliance_status, user_organisations

    role = user_role(request.user)
    _require(request, Membership.Role.CONSUMER, Membership.Role.AGGREGATOR)
    org = user_organisations(request.user, role=role)[0]
    return render(request, "portal/compliance.html", {"org": org, **compliance_status(org)})


def verify_page(request):
    return render(request, "portal/verify.html", {"now": timezone.now() - timedelta(0)})
