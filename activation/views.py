"""Portal pages for activation: thin views over the activation services and selectors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import GridZone, Membership
from accounts.selectors import premises_visible_to, user_organisations, user_role
from flexplatform.errors import ApplicationError

from . import selectors, services
from .models import Cascade, EmergencyStop, Program

OPERATOR = (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)


def _require(request, *roles):
    if user_role(request.user) not in roles:
        raise PermissionDenied("This page is for another role.")


def _live_context(user) -> dict:
    events = list(
        selectors.events_visible_to(user)
        .exclude(status="completed")
        .exclude(status="cancelled")
        .order_by("start")[:100]
    )
    return {
        "rows": selectors.event_monitor_rows(events=events),
        "stop": services.emergency_stop_active(),
        "cascades": Cascade.objects.select_related("zone", "program").prefetch_related("steps").order_by("-id")[:10],
    }


@login_required
def console(request):
    _require(request, *OPERATOR)
    context = _live_context(request.user)
    context.update(
        {
            "programs": Program.objects.all(),
            "premises": premises_visible_to(request.user).order_by("id"),
            "zones": GridZone.objects.all(),
            "stops": EmergencyStop.objects.select_related("engaged_by", "lifted_by")[:10],
            "is_admin": user_role(request.user) == Membership.Role.ADMIN,
        }
    )
    return render(request, "activation/console.html", context)


@login_required
def console_live(request):
    _require(request, *OPERATOR)
    return render(request, "activation/_live.html", _live_context(request.user))


def _parse(request, *names):
    out = {}
    try:
        for n in names:
            v = request.POST.get(n, "")
            if n in ("start", "end"):
                out[n] = datetime.fromisoformat(v)
                if out[n].tzinfo is None:
                    raise ValueError(f"{n}: give a timezone offset, e.g. 2026-11-24T17:00+00:00")
            elif n in ("target_kw",):
                out[n] = Decimal(v)
            else:
                out[n] = v
    except (ValueError, InvalidOperation) as exc:
        raise ApplicationError(f"Invalid {n}: {exc}") from exc
    return out


@login_required
@require_POST
def console_event_create(request):
    _require(request, *OPERATOR)
    try:
        v = _parse(request, "program", "premise", "target_kw", "start", "end")
        premise = premises_visible_to(request.user).filter(pk=int(v["premise"])).first()
        if premise is None:
            raise ApplicationError("Unknown premise.")
        event = services.event_create(
            program=Program.objects.get(code=v["program"]),
            premise=premise,
            target_kw=v["target_kw"],
            start=v["start"],
            end=v["end"],
            created_by=request.user,
        )
        messages.success(request, f"Event {event.pk} created and dispatched.")
    except (ApplicationError, Program.DoesNotExist, ValueError) as exc:
        messages.error(request, f"Refused: {getattr(exc, 'detail', exc)}")
    return redirect("activation:console")


@login_required
@require_POST
def console_cascade_create(request):
    _require(request, *OPERATOR)
    try:
        v = _parse(request, "program", "zone", "target_kw", "start", "end")
        cascade = services.cascade_start(
            program=Program.objects.get(code=v["program"]),
            zone=GridZone.objects.get(code=v["zone"]),
            target_kw=v["target_kw"],
            start=v["start"],
            end=v["end"],
            user=request.user,
        )
        messages.success(request, f"Cascade {cascade.pk} started (tier {cascade.current_tier}).")
    except (ApplicationError, Program.DoesNotExist, GridZone.DoesNotExist) as exc:
        messages.error(request, f"Refused: {getattr(exc, 'detail', exc)}")
    return redirect("activation:console")


@login_required
@require_POST
def console_emergency_stop(request):
    _require(request, *OPERATOR)
    try:
        if request.POST.get("action") == "lift":
            services.emergency_stop_lift(user=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, "Emergency stop lifted.")
        else:
            services.emergency_stop_engage(user=request.user, reason=request.POST.get("reason", "") or "console")
            messages.warning(request, "EMERGENCY STOP engaged: automated dispatch halted.")
    except ApplicationError as exc:
        messages.error(request, f"Refused: {exc.detail}")
    return redirect("activation:console")


@login_required
def my_events(request):
    _require(request, Membership.Role.CONSUMER)
    return render(request, "activation/my_events.html", selectors.consumer_events(user=request.user))


@login_required
@require_POST
def my_event_opt_out(request, pk: int):
    _require(request, Membership.Role.CONSUMER)
    if not selectors.events_visible_to(request.user).filter(pk=pk).exists():
        raise Http404
    try:
        opt = services.event_opt_out(event_id=pk, user=request.user)
        messages.success(
            request, f"Opted out ({opt.get_phase_display().lower()}); consequence: {opt.get_consequence_display()}."
        )
    except ApplicationError as exc:
        messages.error(request, f"Refused: {exc.detail}")
    return redirect("activation:my-events")


@login_required
def portfolio(request):
    _require(request, Membership.Role.AGGREGATOR)
    orgs = user_organisations(request.user, role=Membership.Role.AGGREGATOR)
    rows = selectors.portfolio_response(aggregator=orgs[0]) if orgs else []
    premises = list(premises_visible_to(request.user))
    return render(
        request,
        "activation/portfolio.html",
        {
            "rows": rows,
            "resources": [
                {"premise": p, "suspended": selectors.resource_suspended(p), **selectors.resource_reliability(p)}
                for p in premises
            ],
        },
    )
