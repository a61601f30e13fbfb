"""The platform admin's settlement console: runs, disputes, governance tallies."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from flexplatform.errors import ApplicationError
from settlement import selectors as settlement_selectors
from settlement.services import disputes, governance
from settlement.services.runs import settlement_run_execute

from ..access import R, require_role
from ..forms_admin import SettlementRunForm


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None


@login_required
def settlement_console(request):
    require_role(request, R.ADMIN, message="This page is for platform admins.", auditor_reads=True)
    run_form = SettlementRunForm(request.POST if request.POST.get("action") == "run" else None)
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "run":
                if not run_form.is_valid():
                    return _settlement_console_render(request, run_form, status=400)
                d = run_form.cleaned_data
                run = settlement_run_execute(window_start=d["window_start"], window_end=d["window_end"])
                messages.success(request, f"Run {run.pk}: {run.last_attempt_items} new items.")
            elif action == "resolve":
                disputes.dispute_resolve(
                    dispute_id=int(request.POST["dispute"]),
                    admin=request.user,
                    uphold=request.POST.get("uphold") == "1",
                    resolution=request.POST.get("resolution", ""),
                    adjustment=_decimal(request.POST.get("adjustment")),
                )
                messages.success(request, "Dispute resolved.")
            elif action == "tally":
                governance.proposals_tally_due()
                messages.success(request, "Due proposals tallied.")
        except (ApplicationError, ValueError, KeyError) as exc:
            messages.error(request, getattr(exc, "detail", str(exc)))
        return redirect("portal:settlement-console")
    return _settlement_console_render(request, run_form)


def _settlement_console_render(request, run_form, status: int = 200):
    context = {
        **settlement_selectors.settlement_console_lists(),
        "parameters": settlement_selectors.market_parameters(),
        "years": [timezone.now().year - 1, timezone.now().year],
        "run_form": run_form,
    }
    return render(request, "settlement/console.html", context, status=status)
