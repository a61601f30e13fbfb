"""The consumer's own data and permissions in the browser: meter data upload (platform CSV, the utility's CSV,
Green Button XML) with per-record errors and the meter's quality report; consents (grant, see, revoke at once);
availability declarations (away, battery state of charge, until when). Thin: each form posts to the service that
owns the write."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import consents
from accounts.device_services import CAPABILITY_FIELDS, device_register
from accounts.terms import terms_describe, terms_published
from assessment.ingest.csvfile import parse_csv
from assessment.ingest.services import meter_for_upload, readings_import
from assessment.ingest.store import green_button_import
from assessment.models import ImportBatch
from assessment.quality_window import meter_quality_window
from assessment.services import availability_declare, meter_status_refresh
from flexplatform.errors import ApplicationError

from .. import formatting as fmt
from .. import selectors_data as data
from ..access import R, require_role
from ..forms_consumer import AvailabilityForm, ConsentGrantForm, DeviceLimitsForm, MeterUploadForm

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _errors_to_form(form, exc: ApplicationError) -> None:
    form.add_error(None, exc.detail)
    for name, msgs in exc.fields.items():
        if name in ("records", "problems"):
            continue
        for m in msgs:
            form.add_error(name if name in form.fields else None, m)


@login_required
def meter_upload(request):
    """Upload meter readings; an htmx post answers with the result part only (the page shows upload progress)."""
    require_role(request, R.CONSUMER, message="Meter data upload is for consumers.")
    meters = data.consumer_meters(request.user)
    form = MeterUploadForm(request.POST or None, request.FILES or None, meters=meters)
    result = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        upload, meter = d["file"], d["meter"]
        try:
            if upload.size > MAX_UPLOAD_BYTES:
                raise ApplicationError("File too large (20 MB at most).", fields={"file": ["File too large."]})
            if d["format"] == "platform_csv":
                batch = readings_import(
                    user=request.user,
                    source=ImportBatch.Source.CSV,
                    parsed=parse_csv(upload.read()),
                    filename=upload.name,
                    account_number=d["account_number"],
                )
            else:
                meter_for_upload(user=request.user, meter_id=meter.meter_id)
                batch = green_button_import(
                    user=request.user,
                    meter=meter,
                    stream=upload,
                    filename=upload.name,
                    account_number=d["account_number"],
                )
        except ApplicationError as exc:
            _errors_to_form(form, exc)
            result = {"ok": False, "records": exc.fields.get("records", []), "problems": exc.fields.get("problems", [])}
        else:
            result = {"ok": True, "batch": batch}
    selected = form.cleaned_data.get("meter") if form.is_bound and hasattr(form, "cleaned_data") else None
    selected = selected or next((m for m in meters if m.meter_id == request.GET.get("meter")), None)
    selected = selected or (meters[0] if meters else None)
    context = {"form": form, "result": result, "meters": meters, "meter": selected}
    if selected is not None:
        context["status"] = meter_status_refresh(meter=selected)
        context["quality"] = meter_quality_window(meter=selected) if selected.readings.exists() else None
    template = "portal/_meter_upload_result.html" if request.headers.get("HX-Request") else "portal/meter_upload.html"
    return render(request, template, context)


@login_required
def consents_page(request):
    require_role(request, R.CONSUMER, message="Consents are given by consumers.")
    premises = data.consumer_premises(request.user)
    form = ConsentGrantForm(request.POST or None, premises=premises)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            consents.consent_grant(
                premise=d["premise"],
                aggregator=d["aggregator"],
                by=request.user,
                scopes=d["scopes"],
                purpose=d["purpose"],
                expires_at=timezone.now() + timedelta(days=30 * d["months"]),
                terms=d.get("terms"),
            )
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, f"Consent given to {d['aggregator'].name} for {d['premise'].name}.")
            return redirect("portal:consents")
    context = {
        "form": form,
        "consents": data.consents_of(premises),
        "aggregator_terms": [(t, terms_describe(t)) for t in terms_published()],
    }
    return render(request, "portal/consents.html", context)


@login_required
@require_POST
def consent_revoke(request, pk: int):
    require_role(request, R.CONSUMER)
    consent = data.consent_of(request.user, pk)
    if consent is None:
        raise Http404
    try:
        consents.consent_revoke(consent=consent, by=request.user, reason=request.POST.get("reason", "")[:200])
    except ApplicationError as exc:
        messages.error(request, f"Refused: {exc.detail}")
    else:
        scopes = ", ".join(fmt.label(s).lower() for s in consent.scopes)
        messages.success(
            request,
            f"Revoked now: {consent.aggregator.name} may no longer use {scopes} of {consent.premise.name}; "
            "its enrolments ended and its open offers for the premise were withdrawn.",
        )
    return redirect("portal:consents")


@login_required
def availability_page(request):
    """Declare what a premise can deliver until when (away: 0 kW; a battery's state of charge)."""
    require_role(request, R.CONSUMER, message="Availability is declared by consumers.")
    premises = data.consumer_premises(request.user)
    form = AvailabilityForm(request.POST or None, premises=premises)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            availability_declare(
                premise=d["premise"],
                organisation=d["premise"].organisation,
                available_kw=d["available_kw"],
                valid_until=d["valid_until"],
                soc_percent=d["soc_percent"],
            )
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            until = fmt.local(d["valid_until"], d["premise"].timezone)
            messages.success(
                request, f"Declared: {d['premise'].name} can deliver {fmt.kw(d['available_kw'])} until {until}."
            )
            return redirect("portal:availability")
    devices = data.devices_of(premises)
    limits = [(d, DeviceLimitsForm.for_device(d)) for d in devices]
    context = {"form": form, "declarations": data.declarations_of(premises), "limits": limits}
    return render(request, "portal/availability.html", context)


@login_required
@require_POST
def device_limits(request, pk: int):
    """Save a device's comfort band and event limits (``device_register`` updates the device of that name)."""
    require_role(request, R.CONSUMER)
    device = next((d for d in data.devices_of(data.consumer_premises(request.user)) if d.pk == pk), None)
    if device is None:
        raise Http404
    form = DeviceLimitsForm.for_device(device, request.POST)
    if form.is_valid():
        # the device's other capabilities as they stand (a battery's capacity and state-of-charge floor, an EV
        # charger's kW …): the service checks the whole device, not only the limits changed here
        current = {f: getattr(device, f) for f in CAPABILITY_FIELDS if getattr(device, f, None) is not None}
        values = current | {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            device_register(
                premise=device.premise,
                user=request.user,
                name=device.name,
                kind=device.kind,
                control_channel=device.control_channel,
                **values,
            )
        except ApplicationError as exc:
            labels = {k: f.label for k, f in form.fields.items()}

            def plain(text: str) -> str:  # the service names fields by code; the consumer reads their labels
                for code, text_label in labels.items():
                    text = text.replace(code, f"“{text_label}”")
                return text

            fields = "; ".join(f"{labels.get(k) or fmt.label(k)}: {plain(' '.join(v))}" for k, v in exc.fields.items())
            messages.error(request, f"{device.name}: {exc.detail} {fields}".strip())
        else:
            messages.success(request, f"{device.name}: limits saved; dispatch honours them from the next event.")
    else:
        errors = "; ".join(f"{form.fields[k].label}: {' '.join(v)}" for k, v in form.errors.items() if k in form.fields)
        messages.error(request, f"{device.name}: {errors or 'check the values.'}")
    return redirect("portal:availability")
