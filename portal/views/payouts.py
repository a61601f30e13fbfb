"""Fiat payouts in the portal (ADR 0027): the participant's bank details and payout statuses; finance's payout
console (create a run, download its pain.001, import the bank's camt.054 with each refused entry shown, confirm a
payout by hand). Thin views over ``settlement.services.payouts`` and ``settlement.selectors_payouts``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from accounts import policies
from flexplatform.errors import ApplicationError
from settlement.models import PayoutRun
from settlement.selectors_payouts import participant_payouts, payout_console_lists
from settlement.services import payouts

from ..access import R, require_role

CAMT_MAX_BYTES = 5 * 1024 * 1024


def _error(request, exc: ApplicationError) -> None:
    fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
    messages.error(request, f"{exc.detail} {fields}".strip())


@login_required
def payouts_page(request):
    """The participant's bank details (IBAN and BIC checked) and the status of each payout."""
    role = require_role(request, R.CONSUMER, R.AGGREGATOR, message="This page is for participants.")
    org = policies.acting_organisation(request.user, role=role)
    if org is None:
        raise Http404("No organisation.")
    form = {}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("holder_name", "iban", "bic")}
        try:
            payouts.bank_account_set(organisation=org, actor=request.user, **form)
            messages.success(request, "Bank details saved: your next payout goes to this account.")
            return redirect("portal:payouts")
        except ApplicationError as exc:
            _error(request, exc)
    context = participant_payouts(organisation=org)
    if not form and context["bank_account"] is not None:
        b = context["bank_account"]
        form = {"holder_name": b.holder_name, "iban": b.iban, "bic": b.bic}
    return render(request, "settlement/payouts.html", {"organisation": org, "form": form, **context})


@login_required
def payout_console(request):
    require_role(request, R.ADMIN, message="This page is for the platform's finance.", auditor_reads=True)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "run":
                day = request.POST.get("execution_date") or None
                run = payouts.payout_run_create(
                    actor=request.user, execution_date=date.fromisoformat(day) if day else None
                )
                messages.success(
                    request, f"Payout run {run.pk}: {run.payouts_count} payouts, {run.total} {run.currency}."
                )
            elif action == "camt054":
                upload = request.FILES.get("camt054")
                if upload is None or upload.size > CAMT_MAX_BYTES:
                    raise ApplicationError("Choose a camt.054 file (at most 5 MB).", fields={"camt054": ["Required."]})
                result = payouts.payouts_confirm_camt054(data=upload.read(), filename=upload.name, actor=request.user)
                messages.success(
                    request,
                    f"camt.054 {result.record.message_id}: {result.record.confirmed} paid, "
                    f"{len(result.record.errors)} entries refused (listed below).",
                )
            elif action == "confirm":
                payout = payouts.payout_confirm(
                    end_to_end_id=request.POST.get("end_to_end_id", ""),
                    amount=Decimal(request.POST.get("amount", "")),
                    bank_reference=request.POST.get("bank_reference", ""),
                    actor=request.user,
                )
                messages.success(request, f"Payout {payout.end_to_end_id} marked paid.")
        except ApplicationError as exc:
            _error(request, exc)
        except (InvalidOperation, ValueError):
            messages.error(request, "Give an amount like 12.34 and a date like 2026-03-06.")
        return redirect("portal:payout-console")
    return render(request, "settlement/payout_console.html", payout_console_lists())


@login_required
def payout_run_file(request, pk: int):
    """The run's pain.001 file for the bank; downloading it marks its payouts exported."""
    require_role(request, R.ADMIN, message="This page is for the platform's finance.")
    if not PayoutRun.objects.filter(pk=pk).exists():
        raise Http404("No such payout run.")
    run = payouts.payout_run_download(run_id=pk, actor=request.user)
    response = HttpResponse(bytes(run.document), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{run.filename}"'
    return response
