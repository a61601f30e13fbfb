"""The grid operator's pages: the operator dashboard and the dispatch console (events, cascades, emergency stop)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import GridZone
from accounts.selectors import grid_zone_by_code
from accounts.selectors.zones import zone_timezone
from activation import services as activation_services
from activation.models import Program
from activation.selectors import program_by_code
from flexplatform.errors import ApplicationError

from .. import selectors
from ..access import OPERATOR, R, require_role
from ..forms_operator import localize


@login_required
def operator_console(request):
    require_role(request, *OPERATOR, auditor_reads=True)
    return render(request, "portal/operator.html", selectors.operator_console(user=request.user))


@login_required
def console(request):
    role = require_role(request, *OPERATOR, auditor_reads=True)
    context = selectors.dispatch_console(user=request.user, is_admin=role == R.ADMIN)
    return render(request, "activation/console.html", context)


@login_required
def console_premises(request):
    """The premise picker's options matching the search (htmx): at most ``PREMISE_CHOICES`` of them."""
    require_role(request, *OPERATOR, auditor_reads=True)
    premises = selectors.premise_choices(user=request.user, q=request.GET.get("q", "")[:100])
    return render(request, "activation/_premise_options.html", {"premises": premises})


@login_required
def console_live(request):
    require_role(request, *OPERATOR, auditor_reads=True)
    return render(request, "activation/_live.html", selectors.dispatch_live(user=request.user))


def _parse(request, *names):
    out = {}
    try:
        for n in names:
            v = request.POST.get(n, "")
            if n in ("target_kw",):
                out[n] = Decimal(v)
            else:
                out[n] = v
    except (ValueError, InvalidOperation) as exc:
        raise ApplicationError(f"Invalid {n}: {exc}") from exc
    return out


def _when(value: str, name: str, tz_name: str) -> datetime:
    """A time from the console's date-time picker, read in the zone's local time (``tz_name``); an ISO time with
    an offset (scripts) is taken as it is. A local time the clock skips or repeats is refused, naming the field."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ApplicationError(f"{name.capitalize()}: pick a date and time.") from exc
    if when.tzinfo is not None:
        return when
    try:
        return localize(when, tz_name)
    except ValueError as exc:
        raise ApplicationError(f"{name.capitalize()}: {exc}") from exc


@login_required
@require_POST
def console_event_create(request):
    require_role(request, *OPERATOR)
    try:
        v = _parse(request, "program", "premise", "target_kw", "start", "end")
        premise = selectors.premise_visible(request.user, int(v["premise"]))
        if premise is None:
            raise ApplicationError("Unknown premise.")
        tz_name = premise.timezone  # the premise's local time, as its owner sees the event
        event = activation_services.event_create(
            program=program_by_code(v["program"]),
            premise=premise,
            target_kw=v["target_kw"],
            start=_when(v["start"], "start", tz_name),
            end=_when(v["end"], "end", tz_name),
            created_by=request.user,
        )
        messages.success(request, f"Event {event.pk} created and dispatched.")
    except (ApplicationError, Program.DoesNotExist, ValueError) as exc:
        messages.error(request, f"Refused: {getattr(exc, 'detail', exc)}")
    return redirect("activation:console")


@login_required
@require_POST
def console_cascade_create(request):
    require_role(request, *OPERATOR)
    try:
        v = _parse(request, "program", "zone", "target_kw", "start", "end")
        zone = grid_zone_by_code(v["zone"])
        cascade = activation_services.cascade_start(
            program=program_by_code(v["program"]),
            zone=zone,
            target_kw=v["target_kw"],
            start=_when(v["start"], "start", zone_timezone(zone)),
            end=_when(v["end"], "end", zone_timezone(zone)),
            user=request.user,
        )
        messages.success(request, f"Cascade {cascade.pk} started (tier {cascade.current_tier}).")
    except (ApplicationError, Program.DoesNotExist, GridZone.DoesNotExist) as exc:
        messages.error(request, f"Refused: {getattr(exc, 'detail', exc)}")
    return redirect("activation:console")
