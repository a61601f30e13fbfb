"""The aggregator's pages: the dashboard (fleet with search, filters, sort and paging; capacity per hour; orders,
awards per member, performance per event and the money), enrolment of consented premises and the portfolio order
builder, and the portfolio's event response. Thin callers of the portal's selectors and the accounts and market
services."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from accounts import policies
from accounts.consents import enrolment_create
from accounts.terms import commercial_terms_publish, terms_versions
from flexplatform.errors import ApplicationError
from market.models import MarketOrder
from market.services.orders import order_submit

from .. import aggregator_selectors as sel
from .. import selectors
from ..access import R, require_role
from ..forms import TermsForm
from ..forms_aggregator import EnrolForm, FleetFilterForm, PortfolioOrderForm
from .operator_market import form_refusal

#: at most this many members in one portfolio order chosen "by filter" (an order names each member)
MAX_MEMBERS = 2000


def _aggregator(request):
    require_role(request, R.AGGREGATOR)
    org = sel.aggregator_of(request.user)
    if org is None:
        raise PermissionDenied("You act for no aggregator.")
    return org


def _filters(request, zones):
    form = FleetFilterForm(request.GET or None, zones=zones, auto_id="filter_%s")
    return form, form.to_filter()


@login_required
def aggregator_dashboard(request):
    agg = _aggregator(request)
    zones = sel.zones_for_filter()
    form, f = _filters(request, zones)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("apage", None)
    fleet = sel.fleet_page(user=request.user, aggregator=agg, f=f, page=request.GET.get("page"))
    context = {
        "organisation": agg,
        "filter_form": form,
        "query": query.urlencode(),
        "fleet": fleet,
        # the coming day of the fleet's first premise, when the page lists any (the same day for both charts)
        **sel.portfolio_summary(
            user=request.user, aggregator=agg, day=fleet["capacity_day"] if fleet["rows"] else None
        ),
        "offers": sel.offers_with_state(aggregator=agg),
        "orders": sel.orders_with_members(aggregator=agg),
        "awards": sel.awards_per_member(aggregator=agg, page=request.GET.get("apage")),
        "performance": sel.performance_per_event(aggregator=agg),
        "reservations": sel.reservations_recent(user=request.user),
        "money": sel.money(aggregator=agg),
    }
    return render(request, "portal/aggregator.html", context)


@login_required
def enrol_page(request):
    """Enrol consented premises (ticked, one or many) under the aggregator's terms; each refusal names the premise."""
    agg = _aggregator(request)
    enrolable = sel.fleet_queryset(user=request.user, aggregator=agg, f=sel.FleetFilter(enrolled="no"))
    form = EnrolForm(request.POST or None, enrolable=enrolable)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        ends_at = datetime.combine(d["ends_at"], time(0), tzinfo=UTC) if d["ends_at"] else None
        done, refused = [], []
        for premise in d["premises"]:
            try:
                enrolment_create(
                    premise=premise, aggregator=agg, by=request.user, service=d["service"], ends_at=ends_at
                )
            except ApplicationError as exc:
                refused.append(f"{premise.name}: {exc.detail}")
            else:
                done.append(premise.name)
        if done:
            messages.success(request, f"Enrolled {len(done)}: {', '.join(done[:20])}{' …' if len(done) > 20 else ''}.")
        if not refused:
            return redirect("portal:aggregator-enrol")
        for line in refused:
            form.add_error("premises", line)
    page = sel.enrolable_page(
        user=request.user, aggregator=agg, q=request.GET.get("q", ""), page=request.GET.get("page")
    )
    return render(
        request,
        "portal/aggregator_enrol.html",
        {"form": form, **page, "q": request.GET.get("q", ""), "terms": sel.enrolment_terms(aggregator=agg)},
    )


@login_required
def portfolio_order_page(request):
    """Build a portfolio (members by hand or by filter), see its accredited kW per hour by member name, and submit
    it into the real-time, day-ahead or seasonal market; the gates' refusals show in the form."""
    agg = _aggregator(request)
    zones = sel.zones_for_filter()
    filter_form, f = _filters(request, zones)
    matching = sel.members_matching(user=request.user, aggregator=agg, f=f)
    form = PortfolioOrderForm(request.POST or None, zones=zones, members=matching, auctions=sel.auctions_open())
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        chosen = list(d["members"]) or list(matching[:MAX_MEMBERS])
        try:
            outcome = order_submit(
                organisation=agg,
                market=d["market"],
                product=d["product"],
                side=MarketOrder.Side.SELL,
                zone=d["zone"],
                price_per_mwh=d["price_per_mwh"],
                delivery_start=d["delivery_start"],
                delivery_end=d["delivery_end"],
                members=[(p, d["kw_per_member"]) for p in chosen],
                is_block=d["is_block"],
                auction=d["auction"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            form_refusal(form, exc)
        else:
            names = ", ".join(p.name for p in chosen[:20]) + (" …" if len(chosen) > 20 else "")
            messages.success(
                request,
                f"Portfolio order #{outcome.order.pk} submitted ({outcome.order.get_status_display()}): {names}.",
            )
            return redirect("portal:aggregator")
    fleet = sel.fleet_page(user=request.user, aggregator=agg, f=sel.members_filter(f), page=request.GET.get("page"))
    return render(
        request,
        "portal/aggregator_order.html",
        {
            "form": form,
            "filter_form": filter_form,
            "fleet": fleet,
            "query": request.GET.urlencode(),
            **sel.matching_capacity(members=matching),
        },
    )


@login_required
def portfolio(request):
    require_role(request, R.AGGREGATOR)
    return render(
        request,
        "activation/portfolio.html",
        selectors.aggregator_portfolio(user=request.user, page=request.GET.get("page")),
    )


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
