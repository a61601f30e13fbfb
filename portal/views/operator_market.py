"""The operator console's market and emergency pages: post a request, open a day-ahead or seasonal auction, read a
clearing run with its explanation, call an emergency event for a zone, the live dispatch chart, and the emergency
stop behind a confirmation that names what it halts. Thin callers of the market and activation services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render

from accounts import policies
from accounts.models import Membership
from activation.selectors_emergency import emergency_not_dispatched
from activation.services import emergency_event_create
from activation.services.emergency_stop import emergency_stop_engage, emergency_stop_lift
from flexplatform.errors import ApplicationError
from market.services.auctions import auction_open
from market.services.requests import request_submit

from .. import operator_selectors as sel
from ..access import OPERATOR, R, require_role
from ..forms_operator import AuctionForm, EmergencyEventForm, RequestForm
from ..selectors import zones_served


def form_refusal(form, exc: ApplicationError) -> None:
    """A service's refusal shown in the form: its fields on their inputs, the rest at the top."""
    placed = False
    for name, msgs in exc.fields.items():
        for m in msgs:
            if name in form.fields:
                form.add_error(name, m)
                placed = True
    form.add_error(None, exc.detail if not placed else f"Refused: {exc.detail}")


def _operator_org(user):
    return policies.acting_organisation(user, role=Membership.Role.GRID_OPERATOR)


@login_required
def requests_page(request):
    role = require_role(request, *OPERATOR, auditor_reads=True)
    zones = zones_served(request.user)
    form = RequestForm(request.POST or None, zones=zones)
    if request.method == "POST" and role != R.AUDITOR and form.is_valid():
        d = form.cleaned_data
        try:
            flex_request = request_submit(
                operator=_operator_org(request.user),
                zone=d["zone"],
                kw=d["kw"],
                max_price_per_mwh=d["max_price_per_mwh"],
                window_start=d["window_start"],
                window_end=d["window_end"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            form_refusal(form, exc)
        else:
            messages.success(request, f"Request {flex_request.pk} posted: {d['kw']} kW in {d['zone'].code}.")
            return redirect("portal:operator-requests")
    context = {"form": form, "requests": sel.operator_requests(user=request.user), "may_write": role != R.AUDITOR}
    return render(request, "portal/operator_requests.html", context, status=400 if form.errors else 200)


@login_required
def auctions_page(request):
    role = require_role(request, *OPERATOR, auditor_reads=True)
    form = AuctionForm(request.POST or None, zones=zones_served(request.user))
    if request.method == "POST" and role != R.AUDITOR and form.is_valid():
        d = form.cleaned_data
        try:
            auction = auction_open(
                operator=_operator_org(request.user),
                market=d["market"],
                product=d["product"],
                zone=d["zone"],
                delivery_start=d["delivery_start"],
                delivery_end=d["delivery_end"],
                gate_closure=d["gate_closure"],
                interval_minutes=d.get("interval_minutes") or None,
                demand_curve=d["demand_curve"],
            )
        except ApplicationError as exc:
            form_refusal(form, exc)
        else:
            messages.success(request, f"Auction {auction.pk} open until gate closure.")
            return redirect("portal:operator-auctions")
    context = {"form": form, "auctions": sel.operator_auctions(user=request.user), "may_write": role != R.AUDITOR}
    return render(request, "portal/operator_auctions.html", context, status=400 if form.errors else 200)


@login_required
def clearing_run_page(request, pk: int):
    require_role(request, *OPERATOR, auditor_reads=True)
    context = sel.clearing_run_page(user=request.user, pk=pk)
    if context is None:
        raise Http404("No such clearing run.")
    return render(request, "portal/clearing_run.html", context)


@login_required
def emergency_event_page(request):
    role = require_role(request, *OPERATOR, auditor_reads=True)
    form = EmergencyEventForm(request.POST or None, zones=zones_served(request.user))
    if request.method == "POST" and role != R.AUDITOR and form.is_valid():
        d = form.cleaned_data
        try:
            events = emergency_event_create(
                program=d["program"], zone=d["zone"], start=d["start"], end=d["end"], user=request.user
            )
        except ApplicationError as exc:
            form_refusal(form, exc)
        else:
            skipped = emergency_not_dispatched(program=d["program"], start=d["start"], end=d["end"])
            over = f"; {skipped} not dispatched: over the program's event caps" if skipped else ""
            messages.success(request, f"Emergency call in {d['zone'].code}: {len(events)} resources dispatched{over}.")
            return redirect("activation:console")
    context = {"form": form, "may_write": role != R.AUDITOR}
    return render(request, "portal/emergency_event.html", context, status=400 if form.errors else 200)


@login_required
def dispatch_chart(request):
    require_role(request, *OPERATOR, auditor_reads=True)
    return JsonResponse(sel.dispatch_chart(user=request.user))


@login_required
def emergency_stop_page(request):
    """GET: what the stop would halt (or who engaged it); POST: engage only with the confirmation ticked, or lift."""
    role = require_role(request, *OPERATOR, auditor_reads=True)
    errors: dict = {}
    if request.method == "POST" and role != R.AUDITOR:
        try:
            if request.POST.get("action") == "lift":
                emergency_stop_lift(user=request.user, reason=request.POST.get("reason", ""))
                messages.success(request, "Emergency stop lifted: automated dispatch resumes.")
                return redirect("activation:console")
            if request.POST.get("confirm") != "yes":
                errors["confirm"] = ["Tick the box to confirm you want to halt all automated dispatch."]
            else:
                emergency_stop_engage(user=request.user, reason=request.POST.get("reason", ""))
                messages.warning(request, "EMERGENCY STOP engaged: automated dispatch halted.")
                return redirect("activation:console")
        except ApplicationError as exc:
            errors = exc.fields or {"__all__": [exc.detail]}
    context = {
        **sel.emergency_stop_scope(),
        "errors": errors,
        "may_write": role != R.AUDITOR,
        "is_admin": role == R.ADMIN,
    }
    return render(request, "portal/emergency_stop.html", context, status=400 if errors else 200)
