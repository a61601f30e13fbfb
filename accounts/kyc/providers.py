"""The verification provider interface and its implementations.

A provider is asked for a decision on a submitted case after the automatic rule checks have run:

* :class:`RuleCheckProvider` — the platform's automatic checks (document expiry, holder name against the case and
  the utility account, the same identity in two organisations, the sanctions list at ``KYC_SANCTIONS_LIST_PATH``).
  It runs for every case, whatever the deciding provider.
* :class:`ManualReviewProvider` — every clean case goes to the review queue in the admin console.
* :class:`AutoApproveProvider` — clean cases are approved automatically (recorded as an ``auto`` decision); cases
  with findings still go to the review queue. Used by the demo and where an outside KYC vendor has vouched.

An outside vendor (Onfido, Persona, ...) would be another class with the same ``decide`` method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from ..models import Premise, VerificationCase, VerificationDecision, VerificationDocument
from .rules import RuleFinding, document_expired, normalise_name, sanctions_matches


@dataclass(frozen=True)
class ProviderDecision:
    provider: str  # a VerificationDecision.Provider value
    outcome: str  # APPROVE, REJECT or REFER
    reasons: tuple[RuleFinding, ...] = ()


class VerificationProvider(Protocol):
    name: str

    def decide(self, *, case: VerificationCase) -> ProviderDecision: ...


class RuleCheckProvider:
    """The automatic rule checks."""

    name = VerificationDecision.Provider.RULES

    def findings(self, *, case: VerificationCase) -> list[RuleFinding]:
        today = timezone.now().date()
        out: list[RuleFinding] = []
        documents = list(case.documents.all())
        wanted = normalise_name(case.legal_name)
        for doc in documents:
            if document_expired(expires_on=doc.expires_on, today=today):
                out.append(
                    RuleFinding(
                        "document_expired",
                        f"{doc.get_doc_type_display()} {doc.number} expired on {doc.expires_on.isoformat()}.",
                        blocking=True,
                    )
                )
            if normalise_name(doc.holder_name) != wanted:
                out.append(
                    RuleFinding(
                        "holder_name_mismatch",
                        f"{doc.get_doc_type_display()} {doc.number} is in the name of {doc.holder_name!r}, "
                        f"not {case.legal_name!r}.",
                    )
                )
        holders = (
            Premise.objects.filter(organisation=case.organisation)
            .exclude(utility_account_holder="")
            .values_list("name", "utility_account_number", "utility_account_holder")
        )
        for premise_name, account, holder in holders:
            if normalise_name(holder) != wanted:
                out.append(
                    RuleFinding(
                        "utility_account_name_mismatch",
                        f"Utility account {account or '?'} of {premise_name} is held by {holder!r}, "
                        f"not {case.legal_name!r}.",
                    )
                )
        keys = [d.identity_key for d in documents if d.doc_type in VerificationDocument.IDENTITY_TYPES]
        elsewhere = (
            VerificationDocument.objects.filter(identity_key__in=keys)
            .exclude(case__organisation=case.organisation)
            .exclude(case__status__in=[VerificationCase.Status.DRAFT, VerificationCase.Status.REJECTED])
            .values_list("identity_key", "case__organisation__name")
            .distinct()
        )
        for key, org_name in elsewhere:
            out.append(RuleFinding("identity_in_other_organisation", f"Identity {key} is also used by {org_name}."))
        names = [case.legal_name, *(d.holder_name for d in documents)]
        for hit in sanctions_matches(names=names, path=settings.KYC_SANCTIONS_LIST_PATH):
            out.append(
                RuleFinding("sanctions_match", f"{hit.name!r} is on the sanctions list ({hit.programme or 'listed'}).")
            )
        return out

    def decide(self, *, case: VerificationCase) -> ProviderDecision:
        found = tuple(self.findings(case=case))
        if any(f.blocking for f in found):
            return ProviderDecision(self.name, VerificationDecision.Outcome.REJECT, found)
        if found:
            return ProviderDecision(self.name, VerificationDecision.Outcome.REFER, found)
        return ProviderDecision(self.name, VerificationDecision.Outcome.PASS)


class ManualReviewProvider:
    """Every case waits for a reviewer in the admin console's review queue."""

    name = VerificationDecision.Provider.MANUAL

    def decide(self, *, case: VerificationCase) -> ProviderDecision:
        return ProviderDecision(self.name, VerificationDecision.Outcome.REFER)


class AutoApproveProvider:
    """Clean cases (no rule findings) are approved without a reviewer."""

    name = VerificationDecision.Provider.AUTO

    def decide(self, *, case: VerificationCase) -> ProviderDecision:
        return ProviderDecision(self.name, VerificationDecision.Outcome.APPROVE)


PROVIDERS: dict[str, type] = {"manual": ManualReviewProvider, "auto": AutoApproveProvider}


def provider_for(name: str | None = None) -> VerificationProvider:
    key = name or settings.KYC_PROVIDER
    try:
        return PROVIDERS[key]()
    except KeyError:
        raise ValueError(f"Unknown KYC provider {key!r}; choose one of {sorted(PROVIDERS)}.") from None
