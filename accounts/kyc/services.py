"""KYC / KYB case lifecycle: create -> add documents -> submit (rule checks, provider) -> review -> verified /
rejected; verified -> expired after ``KYC_VALIDITY_DAYS`` (trading is suspended until a new case is verified).

Every status change is checked against the current status under a row lock, recorded as a decision with its
reasons where one was taken, and audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from ..audit import audit_record
from ..errors import AccountsError
from ..models import AuditEntry, Organisation, VerificationCase, VerificationDecision, VerificationDocument
from ..signals import ParticipationEnded, participation_ended_on_commit
from .providers import RuleCheckProvider, VerificationProvider, provider_for
from .rules import identity_key

Status = VerificationCase.Status
Outcome = VerificationDecision.Outcome


def _move(case: VerificationCase, to: str, *, actor=None, reason: str = "", now: datetime | None = None) -> None:
    before = case.status
    case.status = to
    audit_record(
        subject_type=AuditEntry.Subject.VERIFICATION_CASE,
        subject_id=case.pk,
        organisation=case.organisation,
        actor=actor,
        from_status=before,
        to_status=to,
        reason=reason,
        at=now,
    )


def _locked(case: VerificationCase) -> VerificationCase:
    return VerificationCase.objects.select_for_update().select_related("organisation").get(pk=case.pk)


@transaction.atomic
def verification_case_create(
    *, organisation: Organisation, legal_name: str, kind: str | None = None, level: str | None = None, by=None
) -> VerificationCase:
    """Open a draft case; an organisation has at most one open (draft/submitted/in review) case."""
    if organisation.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
        raise ApplicationError(
            "Only consumers and aggregators are verified.", fields={"organisation": ["Not verifiable."]}
        )
    if not legal_name.strip():
        raise ApplicationError("Give the legal name.", fields={"legal_name": ["Required."]})
    if kind is None:
        kind = (
            VerificationCase.Kind.KYB
            if organisation.kind == Organisation.Kind.AGGREGATOR
            else VerificationCase.Kind.KYC
        )
    if level is None:
        level = VerificationCase.Level.ENHANCED if kind == VerificationCase.Kind.KYB else VerificationCase.Level.BASIC
    if VerificationCase.objects.filter(organisation=organisation, status__in=VerificationCase.OPEN_STATUSES).exists():
        raise Conflict("This organisation already has an open verification case.", code=AccountsError.CASE_OPEN)
    try:
        with transaction.atomic():
            case = VerificationCase.objects.create(
                organisation=organisation,
                subject_user=by
                if kind == VerificationCase.Kind.KYC and getattr(by, "is_authenticated", False)
                else None,
                kind=kind,
                level=level,
                legal_name=legal_name.strip(),
                created_by=by if getattr(by, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise Conflict(
            "This organisation already has an open verification case.", code=AccountsError.CASE_OPEN
        ) from None
    audit_record(
        subject_type=AuditEntry.Subject.VERIFICATION_CASE,
        subject_id=case.pk,
        organisation=organisation,
        actor=by,
        to_status=Status.DRAFT,
        reason="Case opened.",
    )
    return case


@transaction.atomic
def verification_document_add(
    *,
    case: VerificationCase,
    doc_type: str,
    number: str,
    holder_name: str,
    expires_on: date | None = None,
    issuing_country: str = "",
    file=None,
    by=None,
) -> VerificationDocument:
    case = _locked(case)
    if case.status != Status.DRAFT:
        raise ApplicationError(
            f"Documents can only be added to a draft case, not one that is {case.status}.",
            code=AccountsError.INVALID_STATE,
        )
    fields: dict[str, list[str]] = {}
    if doc_type not in VerificationDocument.DocType.values:
        fields["doc_type"] = [f"One of {', '.join(VerificationDocument.DocType.values)}."]
    if not number.strip():
        fields["number"] = ["Required."]
    if not holder_name.strip():
        fields["holder_name"] = ["Required."]
    if (
        doc_type in VerificationDocument.IDENTITY_TYPES
        and doc_type != VerificationDocument.DocType.BUSINESS_REGISTRATION
        and expires_on is None
    ):
        fields["expires_on"] = ["Identity documents have an expiry date."]
    if fields:
        raise ApplicationError("The document is invalid.", fields=fields)
    doc, created = VerificationDocument.objects.get_or_create(
        case=case,
        doc_type=doc_type,
        number=number.strip(),
        defaults={
            "holder_name": holder_name.strip(),
            "expires_on": expires_on,
            "issuing_country": issuing_country.upper(),
            "identity_key": identity_key(doc_type=doc_type, country=issuing_country, number=number),
            "file": file or "",
            "uploaded_by": by if getattr(by, "is_authenticated", False) else None,
        },
    )
    return doc


def _validity_end(case: VerificationCase, now: datetime) -> datetime:
    """Verified for ``KYC_VALIDITY_DAYS``, but never beyond the earliest expiry of its identity documents."""
    until = now + timedelta(days=settings.KYC_VALIDITY_DAYS)
    expiries = [
        d.expires_on for d in case.documents.all() if d.expires_on and d.doc_type in VerificationDocument.IDENTITY_TYPES
    ]
    if expiries:
        doc_end = datetime.combine(min(expiries) + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
        until = min(until, doc_end)
    return until


def _verify(case: VerificationCase, *, now: datetime, actor=None, reason: str) -> None:
    case.verified_until = _validity_end(case, now)
    case.decided_at = now
    _move(case, Status.VERIFIED, actor=actor, reason=reason, now=now)
    case.save(update_fields=["status", "verified_until", "decided_at"])


@transaction.atomic
def verification_case_submit(
    *, case: VerificationCase, by=None, provider: VerificationProvider | None = None, now: datetime | None = None
) -> VerificationCase:
    """Submit a draft: run the automatic rule checks, then ask the provider. Expired documents reject the case;
    other findings (name mismatch, identity used elsewhere, sanctions match) send it to manual review."""
    now = now or timezone.now()
    case = _locked(case)
    if case.status != Status.DRAFT:
        raise ApplicationError(
            f"Only a draft can be submitted; this case is {case.status}.", code=AccountsError.INVALID_STATE
        )
    types = set(case.documents.values_list("doc_type", flat=True))
    needed: list[str] = []
    if (
        not types
        & {
            VerificationDocument.DocType.PASSPORT,
            VerificationDocument.DocType.NATIONAL_ID,
            VerificationDocument.DocType.DRIVING_LICENCE,
        }
        and case.kind == VerificationCase.Kind.KYC
    ):
        needed.append("an identity document (passport, national identity card or driving licence)")
    if (
        case.level == VerificationCase.Level.ENHANCED
        and VerificationDocument.DocType.BUSINESS_REGISTRATION not in types
    ):
        needed.append("a business registration")
    if needed:
        raise ApplicationError(
            "The case needs " + " and ".join(needed) + ".",
            fields={"documents": ["Missing: " + "; ".join(needed) + "."]},
        )
    case.submitted_at = now
    _move(case, Status.SUBMITTED, actor=by, reason="Submitted for verification.", now=now)
    case.save(update_fields=["status", "submitted_at"])

    rules = RuleCheckProvider().decide(case=case)
    VerificationDecision.objects.create(
        case=case, provider=rules.provider, outcome=rules.outcome, reasons=[f.as_dict() for f in rules.reasons]
    )
    if rules.outcome == Outcome.REJECT:
        case.decided_at = now
        case.review_flags = [f.as_dict() for f in rules.reasons]
        _move(case, Status.REJECTED, reason="; ".join(f.detail for f in rules.reasons if f.blocking), now=now)
        case.save(update_fields=["status", "decided_at", "review_flags"])
        return case
    if rules.outcome == Outcome.REFER:
        case.review_flags = [f.as_dict() for f in rules.reasons]
        _move(case, Status.IN_REVIEW, reason="Rule findings: " + "; ".join(f.detail for f in rules.reasons), now=now)
        case.save(update_fields=["status", "review_flags"])
        return case
    provider = provider or provider_for()
    decision = provider.decide(case=case)
    VerificationDecision.objects.create(
        case=case, provider=decision.provider, outcome=decision.outcome, reasons=[f.as_dict() for f in decision.reasons]
    )
    if decision.outcome == Outcome.APPROVE:
        _verify(case, now=now, reason=f"Approved by the {decision.provider} provider; rule checks passed.")
    elif decision.outcome == Outcome.REJECT:
        case.decided_at = now
        _move(case, Status.REJECTED, reason=f"Rejected by the {decision.provider} provider.", now=now)
        case.save(update_fields=["status", "decided_at"])
    else:
        _move(case, Status.IN_REVIEW, reason="Queued for manual review.", now=now)
        case.save(update_fields=["status"])
    return case


@transaction.atomic
def verification_case_decide(
    *, case: VerificationCase, reviewer, approve: bool, reason: str, now: datetime | None = None
) -> VerificationCase:
    """A reviewer's decision on a case in the review queue. A reason is required; it is kept with the decision."""
    from ..models import Membership
    from ..selectors import user_role

    if user_role(reviewer) != Membership.Role.ADMIN:
        raise NotPermitted("Only platform admins review verification cases.")
    if not reason.strip():
        raise ApplicationError("Give the reason for the decision.", fields={"reason": ["Required."]})
    now = now or timezone.now()
    case = _locked(case)
    if case.status != Status.IN_REVIEW:
        raise ApplicationError(
            f"Only a case in review can be decided; this case is {case.status}.", code=AccountsError.INVALID_STATE
        )
    VerificationDecision.objects.create(
        case=case,
        provider=VerificationDecision.Provider.MANUAL,
        outcome=Outcome.APPROVE if approve else Outcome.REJECT,
        reasons=[{"rule": "reviewer", "detail": reason.strip(), "blocking": False}],
        decided_by=reviewer,
    )
    if approve:
        _verify(case, now=now, actor=reviewer, reason=reason.strip())
    else:
        case.decided_at = now
        _move(case, Status.REJECTED, actor=reviewer, reason=reason.strip(), now=now)
        case.save(update_fields=["status", "decided_at"])
    from ..models import NotificationKind
    from ..notifications import notification_create

    notification_create(  # in the decision's transaction (ADR 0030)
        organisation_ids=[case.organisation_id],
        kind=NotificationKind.KYC_DECISION,
        key=f"kyc_decision:{case.pk}:{case.status}",
        title="Your identity check is approved" if approve else "Your identity check needs action",
        body=("Approved: you can be paid." if approve else f"Rejected: {reason.strip()} Upload a new document."),
        url="/onboarding/kyc/",
        now=now,
    )
    return case


def verification_cases_expire(*, now: datetime | None = None) -> int:
    """Expire verified cases past their validity; their organisations' open offers are withdrawn (trading is
    suspended until a new case is verified). Idempotent: an expired case is not expired again."""
    now = now or timezone.now()
    expired = 0
    due = list(
        VerificationCase.objects.filter(status=Status.VERIFIED, verified_until__lte=now).values_list("pk", flat=True)
    )
    for pk in due:
        with transaction.atomic():
            case = VerificationCase.objects.select_for_update().select_related("organisation").get(pk=pk)
            if case.status != Status.VERIFIED or case.verified_until > now:
                continue
            VerificationDecision.objects.create(
                case=case,
                provider=VerificationDecision.Provider.SYSTEM,
                outcome=Outcome.EXPIRE,
                reasons=[
                    {
                        "rule": "validity_period",
                        "detail": f"Verified until {case.verified_until.isoformat()}.",
                        "blocking": True,
                    }
                ],
            )
            _move(case, Status.EXPIRED, reason="Verification period ended; renew to trade again.", now=now)
            case.save(update_fields=["status"])
            from ..selectors import organisation_trading_status

            if not organisation_trading_status(case.organisation, now=now).allowed:
                participation_ended_on_commit(
                    organisation_id=case.organisation_id,
                    premise_ids=None,
                    reason=ParticipationEnded.VERIFICATION_EXPIRED,
                )
            expired += 1
    return expired
