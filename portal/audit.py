"""The auditor portal's read models: one section per kind of record an auditor may read, each a queryset built
for one page (``select_related``, a fixed ordering, server-side pagination) and the columns the page shows.

Auditors (and admins) read everything (``accounts.policies.reads_everything``) and write nothing: these pages
have no form that changes a record. A page costs the same few queries whatever the table's size (count + page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet

from accounts.models import AuditEntry, Organisation, VerificationCase
from activation.models import DREvent, EventVerification
from market.models import ClearingRun, MarketOrder
from settlement.models import AuditRecord, PeriodAnchor, Posting, SettlementRun

PAGE_SIZE = 50


@dataclass(frozen=True)
class Column:
    label: str
    value: Callable[[Any], Any]


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    explains: str
    queryset: Callable[[], QuerySet]
    columns: tuple[Column, ...]
    search: tuple[str, ...] = ()


def _c(label: str, attr: str) -> Column:
    path = attr.split(".")

    def value(row):
        for part in path:
            row = getattr(row, part, None)
            if row is None:
                return "—"
            if callable(row):
                row = row()
        return row

    return Column(label, value)


SECTIONS: tuple[Section, ...] = (
    Section(
        "participants",
        "Participants",
        "Every organisation on the platform: consumers, aggregators, grid operators, the platform.",
        lambda: Organisation.objects.order_by("name", "pk"),
        (
            _c("ID", "pk"),
            _c("Name", "name"),
            _c("Kind", "get_kind_display"),
            _c("Licence", "licence_number"),
            _c("Licence expires", "licence_expires_on"),
            _c("Joined", "created_at"),
        ),
        ("name",),
    ),
    Section(
        "verification-cases",
        "Verification cases (KYC/KYB)",
        "Each case with its status and decision dates; the case page holds its documents and audit trail.",
        lambda: VerificationCase.objects.select_related("organisation").order_by("-created_at", "-pk"),
        (
            _c("Case", "pk"),
            _c("Legal name", "legal_name"),
            _c("Organisation", "organisation.name"),
            _c("Kind", "get_kind_display"),
            _c("Status", "get_status_display"),
            _c("Submitted", "submitted_at"),
            _c("Decided", "decided_at"),
            _c("Verified until", "verified_until"),
        ),
        ("legal_name", "organisation__name"),
    ),
    Section(
        "orders",
        "Market orders",
        "Offers and bids in every market, with their remaining quantity and status.",
        lambda: MarketOrder.objects.select_related("organisation", "zone").order_by("-created_at", "-pk"),
        (
            _c("Order", "pk"),
            _c("Market", "get_market_display"),
            _c("Side", "get_side_display"),
            _c("Organisation", "organisation.name"),
            _c("Zone", "zone.name"),
            _c("kW", "kw"),
            _c("Remaining kW", "remaining_kw"),
            _c("Price $/MWh", "price_per_mwh"),
            _c("Delivery from", "delivery_start"),
            _c("Status", "get_status_display"),
        ),
        ("organisation__name",),
    ),
    Section(
        "clearing-runs",
        "Clearing runs",
        "Every clearing with its rule version, price, awarded kW and solver outcome.",
        lambda: ClearingRun.objects.order_by("-cleared_at", "-pk"),
        (
            _c("Run", "pk"),
            _c("Rule", "rule_version"),
            _c("Price $/MWh", "clearing_price_per_mwh"),
            _c("Awarded kW", "awarded_kw"),
            _c("Solver", "solver_status"),
            _c("Cleared", "cleared_at"),
        ),
    ),
    Section(
        "events",
        "Events",
        "Demand-response events: who was asked for what, when, and how far each got.",
        lambda: DREvent.objects.select_related("premise", "zone").order_by("-start", "-pk"),
        (
            _c("Event", "pk"),
            _c("Premise", "premise.name"),
            _c("Zone", "zone.name"),
            _c("Target kW", "target_kw"),
            _c("Start", "start"),
            _c("End", "end"),
            _c("Source", "get_source_display"),
            _c("Status", "get_status_display"),
        ),
        ("premise__name",),
    ),
    Section(
        "verifications",
        "Event verifications",
        "Measured delivery per event: baseline, actual and delivered kWh, and where the data came from.",
        lambda: EventVerification.objects.select_related("event__premise").order_by("-verified_at", "-pk"),
        (
            _c("Event", "event_id"),
            _c("Premise", "event.premise.name"),
            _c("Baseline", "baseline"),
            _c("Baseline kWh", "baseline_kwh"),
            _c("Actual kWh", "actual_kwh"),
            _c("Delivered kWh", "delivered_kwh"),
            _c("Committed kWh", "committed_kwh"),
            _c("Verified", "verified_at"),
        ),
    ),
    Section(
        "settlement-runs",
        "Settlement runs",
        "Each run's window, trigger, attempts and items created.",
        lambda: SettlementRun.objects.order_by("-created_at", "-pk"),
        (
            _c("Run", "pk"),
            _c("From", "window_start"),
            _c("To", "window_end"),
            _c("Trigger", "trigger"),
            _c("Status", "status"),
            _c("Attempts", "attempts"),
            _c("Items", "items_created"),
            _c("Finished", "finished_at"),
        ),
    ),
    Section(
        "ledger",
        "Ledger postings",
        "The double-entry ledger, newest first: every posting with its journal entry and account.",
        lambda: Posting.objects.select_related("entry", "account__organisation").order_by("-entry_id", "pk"),
        (
            _c("Entry", "entry_id"),
            _c("Key", "entry.business_key"),
            _c("Memo", "entry.memo"),
            _c("Account", "account"),
            _c("Asset", "asset"),
            _c("Amount", "amount"),
            _c("At", "entry.created_at"),
        ),
        ("entry__business_key", "entry__memo"),
    ),
    Section(
        "anchors",
        "Anchors",
        "Each settlement period's Merkle root and its transaction on chain.",
        lambda: PeriodAnchor.objects.select_related("period").order_by("-period__start", "-pk"),
        (
            _c("Period", "period.start"),
            _c("Root", "root"),
            _c("Leaves", "leaf_count"),
            _c("Status", "status"),
            _c("Tx", "tx_hash"),
            _c("Block", "block_number"),
            _c("Gas", "gas_used"),
            _c("Confirmed", "confirmed_at"),
        ),
    ),
    Section(
        "audit-trail",
        "Audit trail: participants",
        "Every status change of verification cases, consents, enrolments and wallets: who, when, from, to, why.",
        lambda: AuditEntry.objects.select_related("actor", "organisation").order_by("-at", "-pk"),
        (
            _c("When", "at"),
            _c("Subject", "get_subject_type_display"),
            _c("ID", "subject_id"),
            _c("Organisation", "organisation.name"),
            _c("Who", "actor.email"),
            _c("From", "from_status"),
            _c("To", "to_status"),
            _c("Why", "reason"),
        ),
    ),
    Section(
        "settlement-audit",
        "Audit trail: settlement",
        "Disputes, governance, stakes, withdrawals and alert resolutions, one record per change.",
        lambda: AuditRecord.objects.select_related("actor", "organisation").order_by("-at", "-pk"),
        (
            _c("When", "at"),
            _c("Action", "action"),
            _c("Object", "object_type"),
            _c("ID", "object_id"),
            _c("Organisation", "organisation.name"),
            _c("Who", "actor.email"),
            _c("Data", "data"),
        ),
    ),
)
BY_SLUG = {s.slug: s for s in SECTIONS}


def audit_section_page(slug: str, *, page: str | int | None, q: str = "") -> dict | None:
    """One page of one section, as rows of display values; None for an unknown section."""
    section = BY_SLUG.get(slug)
    if section is None:
        return None
    qs = section.queryset()
    q = (q or "").strip()[:100]
    if q and section.search:
        from django.db.models import Q

        cond = Q()
        for field in section.search:
            cond |= Q(**{f"{field}__icontains": q})
        qs = qs.filter(cond)
    paginator = Paginator(qs, PAGE_SIZE)
    page_obj = paginator.get_page(page)
    rows = [[col.value(obj) for col in section.columns] for obj in page_obj.object_list]
    return {"section": section, "page": page_obj, "rows": rows, "q": q}
