"""The aggregator's pages: the dashboard, the portfolio's event response and its commercial terms."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts import policies
from accounts.terms import commercial_terms_publish, terms_versions
from flexplatform.errors import ApplicationError

from .. import selectors
from ..access import R, require_role
from ..forms import TermsForm


@login_required
def aggregator_dashboard(request):
    require_role(request, R.AGGREGATOR)
    return render(request, "portal/aggregator.html", selectors.aggregator_dashboard(user=request.user))


@login_required
def portfolio(request):
    require_role(request, R.AGGREGATOR)
    return render(request, "activation/portfolio.html", selectors.aggregator_portfolio(user=request.user))


@login_required
def aggregator_terms(request):
    """The aggregator's commercial terms: the version in force, earlier versions with their consents, and a form
    to publish a new version (owners see it at consent; consents already given keep the version they accepted)."""
    require_role(request, R.AGGREGATOR)
    org = policies.organisations(request.user, role=R.AGGREGATOR)[0]
    form = TermsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            t = commercial_terms_publish(aggregator=org, by=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.detail)
            for field, msgs in exc.fields.items():
                for m in msgs:
                    form.add_error(field if field in form.fields else None, m)
        else:
            messages.success(request, f"Terms version {t.version} in force.")
            return redirect("portal:aggregator-terms")
    versions = terms_versions(org)
    return render(request, "portal/aggregator_terms.html", {"org": org, "form": form, "versions": versions})
