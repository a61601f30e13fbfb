"""The onboarding wizard: account -> premise -> meter -> consent (optional) -> devices -> KYC upload, with visible
progress. Each step posts to the service that owns it; a device shows its assessed capability."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts import consents, policies, services
from accounts.device_services import device_register
from accounts.kyc import services as kyc
from accounts.onboarding import consumer_organisation_register, premises_of, verification_case_draft
from accounts.terms import terms_describe, terms_published
from flexplatform.errors import ApplicationError

from .. import selectors
from ..access import ROLE_HOME, R
from ..forms import ONBOARDING_FORMS, PREMISE_STEPS

NO_ONBOARDING = (R.AUDITOR, R.GRID_OPERATOR, R.ADMIN)


def _submit(step: str, d: dict, *, user, org):
    """Posts one step's form to the service that owns it; returns the registered device on the devices step."""
    if step == "account":
        consumer_organisation_register(user=user, name=d["name"])
    elif step == "premise":
        services.premise_create(organisation=org, **d)
    elif step == "meter":
        services.meter_create(**d)
    elif step == "consent":
        consents.consent_grant(
            premise=d["premise"],
            aggregator=d["aggregator"],
            by=user,
            scopes=d["scopes"],
            expires_at=timezone.now() + timedelta(days=30 * d["months"]),
            terms=d.get("terms"),
        )
    elif step == "devices":
        premise = d.pop("premise")
        return device_register(
            premise=premise,
            user=user,
            name=d.pop("name"),
            kind=d.pop("kind"),
            control_channel=d.pop("control_channel"),
            **d,
        )
    else:
        case = verification_case_draft(org) or kyc.verification_case_create(
            organisation=org, legal_name=d["legal_name"], by=user
        )
        kyc.verification_document_add(
            case=case,
            doc_type=d["doc_type"],
            number=d["number"],
            holder_name=d["legal_name"],
            issuing_country=d["issuing_country"],
            expires_on=d["expires_on"],
            file=d["file"],
            by=user,
        )
        kyc.verification_case_submit(case=case, by=user)
    return None


@login_required
def onboarding(request, step: str | None = None):
    role = policies.role(request.user)
    if role in NO_ONBOARDING:  # auditors, operators and admins are set up by the platform, not by this wizard
        messages.info(request, "Your account is set up by the platform: there is no onboarding for your role.")
        return redirect(ROLE_HOME[role])
    progress = selectors.onboarding_progress(request.user)
    step = step or progress["current"] or "kyc"
    org = progress["organisation"]
    if step != "account" and org is None:
        return redirect("portal:onboarding-step", step="account")
    own_premises = premises_of(org)
    form_class = ONBOARDING_FORMS.get(step)
    if form_class is None:
        raise PermissionDenied("Unknown step.")
    extra = {"premises": own_premises} if step in PREMISE_STEPS else {}
    form = form_class(request.POST or None, request.FILES or None, **extra)
    if request.method == "POST" and form.is_valid():
        try:
            device = _submit(step, dict(form.cleaned_data), user=request.user, org=org)
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
        assessed = selectors.onboarding_device(premises=own_premises, pk=int(request.GET["device"]))
    if request.method == "POST":  # a submission that did not redirect may still have changed a step: read again
        progress = selectors.onboarding_progress(request.user)
    context = {**progress, "step": step, "form": form, "assessed": assessed}
    if step == "consent":
        context["aggregator_terms"] = [(t, terms_describe(t)) for t in terms_published()]
    return render(request, "portal/onboarding.html", context)
