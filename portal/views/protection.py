"""Consumer protections in the browser (ADR 0026): bill protection (opt in, the premise's tariff, the monthly
computation; admins fund the pool and settle due months) and annual tax statements (the tax identifier in the
organisation's profile, PDF/CSV downloads for the participant, its aggregator where the terms say so, admins and
auditors). Thin: every rule is in ``settlement.services.protection``, ``settlement.services.tax_statements``,
``accounts.tax_profiles`` and ``accounts.policies``."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import policies
from accounts.models import Organisation, Premise
from accounts.tax_profiles import tax_profile_of, tax_profile_set
from accounts.taxids import EXAMPLES
from flexplatform.errors import ApplicationError, NotPermitted
from settlement.services import protection, tax_statements

from ..access import R, require_role

PERIOD_ROWS = 3


def _premises(user):
    return list(policies.premises_writable_by(user).select_related("organisation").order_by("pk"))


def _periods(post) -> list[dict]:
    rows = []
    for n in range(PERIOD_ROWS):
        start, end, rate = (post.get(f"period_{k}_{n}", "").strip() for k in ("from", "to", "rate"))
        if start or end or rate:
            rows.append({"days": post.get(f"period_days_{n}", "all"), "from": start, "to": end, "rate": rate})
    return rows


def form_refusal(exc: ApplicationError) -> str:
    fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
    return f"Refused: {exc.detail}" + (f" ({fields})" if fields and fields not in exc.detail else "")


@login_required
def bill_protection_page(request):
    role = require_role(
        request, R.CONSUMER, R.AGGREGATOR, R.ADMIN, message="This page is for participants.", auditor_reads=True
    )
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "fund":
                balance = protection.bill_protection_pool_fund(
                    user=request.user,
                    amount=Decimal(request.POST.get("amount", "") or "0"),
                    reference=request.POST.get("reference", ""),
                )
                messages.success(request, f"Pool funded: it holds {balance}.")
            elif action == "settle_due":
                policies.require_role(request.user, [R.ADMIN], "Only platform admins settle bill protection.")
                counts = protection.bill_protection_settle_due()
                messages.success(request, f"Due months: {counts['settled']} settled, {counts['refused']} refused.")
            else:
                premise = (
                    policies.premises_writable_by(request.user).filter(pk=request.POST.get("premise") or 0).first()
                )
                if premise is None:
                    raise NotPermitted("Not your premise.", fields={"premise": ["Not your premise."]})
                if action == "opt_in":
                    e = protection.bill_protection_opt_in(user=request.user, premise=premise)
                    messages.success(request, f"{premise.name} is protected from {e.covers_from:%B %Y}.")
                elif action == "tariff":
                    valid_from = request.POST.get("valid_from") or None
                    protection.premise_tariff_set(
                        user=request.user,
                        premise=premise,
                        kind=request.POST.get("kind", ""),
                        rate=request.POST.get("rate", ""),
                        periods=_periods(request.POST),
                        valid_from=date.fromisoformat(valid_from) if valid_from else None,
                    )
                    messages.success(request, f"Tariff of {premise.name} saved.")
        except ApplicationError as exc:
            messages.error(request, form_refusal(exc))
        except (ValueError, InvalidOperation) as exc:
            messages.error(request, f"Refused: {exc}")
        return redirect("portal:bill-protection")
    today = timezone.now().date()
    this_month = protection.month_first(today)
    last_month = protection.month_first(this_month - timedelta(days=1))
    rows = []
    premises = _premises(request.user) if role in (R.CONSUMER, R.AGGREGATOR) else []
    for overview in protection.premises_protection_overview(premises):
        settled = {m.month for m in overview["months"]}
        previews = []
        for month in (last_month, this_month):
            if month in settled:
                continue
            try:
                previews.append(
                    {"month": month, "c": protection.bill_protection_compute(premise=overview["premise"], month=month)}
                )
            except ApplicationError as exc:
                previews.append({"month": month, "error": exc.detail})
        rows.append({**overview, "previews": previews})
    context = {
        "rows": rows,
        "role": role,
        "period_rows": range(PERIOD_ROWS),
        "first_of_month": this_month.isoformat(),
        "pool": protection.pool_balance() if role in (R.ADMIN, R.AUDITOR) else None,
        "due": protection.bill_protection_months_due() if role in (R.ADMIN, R.AUDITOR) else [],
    }
    return render(request, "settlement/protection.html", context)


@login_required
def tax_page(request):
    role = policies.role(request.user)
    if role is None:
        raise PermissionDenied("Sign up as a participant first.")
    own = policies.acting_organisation(request.user)
    if request.method == "POST":
        try:
            if own is None:
                raise NotPermitted("You act for no organisation.")
            tax_profile_set(
                user=request.user,
                organisation=own,
                country=request.POST.get("country", ""),
                tax_id=request.POST.get("tax_id", ""),
                legal_name=request.POST.get("legal_name", ""),
            )
            messages.success(request, "Tax identifier saved.")
        except ApplicationError as exc:
            messages.error(request, form_refusal(exc))
        return redirect("portal:tax")
    year = timezone.now().year
    others: list[Organisation] = []
    if policies.reads_everything(request.user):
        others = list(Organisation.objects.order_by("name"))
    elif role == R.AGGREGATOR:
        members = Organisation.objects.filter(
            pk__in=Premise.objects.filter(
                enrolments__aggregator__in=policies.organisations(request.user, role=R.AGGREGATOR)
            ).values("organisation_id")
        ).order_by("name")
        others = [m for m in members if policies.tax_statement_readable(request.user, m)]
    context = {
        "own": own if own is not None and own.kind != Organisation.Kind.PLATFORM else None,
        "profile": tax_profile_of(own) if own is not None else None,
        "may_write": policies.may_write(request.user),
        "years": [year, year - 1, year - 2],
        "others": others,
        "examples": EXAMPLES,
    }
    return render(request, "settlement/tax.html", context)


@login_required
def tax_statement_download(request, org: int, year: int, fmt: str):
    organisation = Organisation.objects.filter(pk=org).first()
    if organisation is None or fmt not in ("pdf", "csv"):
        raise Http404("No such organisation.")
    try:
        statement = tax_statements.tax_statement_build(user=request.user, organisation=organisation, year=year)
    except NotPermitted as exc:
        raise PermissionDenied(exc.detail) from exc
    except ApplicationError as exc:
        raise Http404(exc.detail) from exc
    if fmt == "pdf":
        response = HttpResponse(tax_statements.tax_statement_pdf(statement), content_type="application/pdf")
    else:
        response = HttpResponse(tax_statements.tax_statement_csv(statement), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="tax-statement-{organisation.pk}-{year}.{fmt}"'
    return response
