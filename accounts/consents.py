"""Consent and enrolment services: a consumer consents, an aggregator enrolls the premise under that consent.

Rules (Directive (EU) 2019/944 Art. 13 — aggregation needs the final customer's consent, which they can withdraw;
FERC Order No. 2222 — a resource may not be in two aggregations for the same service, no double counting):
no enrolment without a consent in force; revocation or expiry of the consent ends its enrolments, stops the
aggregator's use of the premise's data (``accounts.selectors.premises_visible_to``) and withdraws the premise's
open offers by that aggregator; a premise cannot be enrolled with two aggregators for the same service and
overlapping period; eligibility rules of the premise's jurisdiction are checked at enrolment
(``accounts.compliance``). Every status change is audited.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from .audit import audit_record
from .errors import AccountsError
from .models import AuditEntry, Consent, Enrolment, Membership, Organisation, Premise
from .selectors import consents_active, enrolment_eligibility, user_organisations, user_role
from .signals import ParticipationEnded, participation_ended_on_commit
from .terms import consent_terms_check, consent_terms_record


def _is_owner(user, premise: Premise) -> bool:
    return any(o.pk == premise.organisation_id for o in user_organisations(user, role=Membership.Role.CONSUMER))


def _audit(subject_type, obj, *, organisation, actor, before, after, reason, now) -> None:
    audit_record(
        subject_type=subject_type,
        subject_id=obj.pk,
        organisation=organisation,
        actor=actor,
        from_status=before,
        to_status=after,
        reason=reason,
        at=now,
    )


def _sync_premise_aggregator(premise: Premise, now: datetime) -> None:
    """Keep ``Premise.aggregator`` (the cached current enrolment) equal to the active enrolment, if any."""
    active = (
        Enrolment.objects.filter(premise=premise, status=Enrolment.Status.ACTIVE, consent__status=Consent.Status.ACTIVE)
        .order_by("created_at", "id")
        .values_list("aggregator_id", flat=True)
        .first()
    )
    if premise.aggregator_id != active:
        premise.aggregator_id = active
        premise.save(update_fields=["aggregator"])


@transaction.atomic
def consent_grant(
    *,
    premise: Premise,
    aggregator: Organisation,
    by,
    scopes: list[str],
    purpose: str = Consent.Purpose.FLEXIBILITY_AGGREGATION,
    expires_at: datetime,
    terms=None,
    now: datetime | None = None,
) -> Consent:
    """The premise owner consents; an identical consent in force is returned as it is (idempotent). For an
    aggregator that has published commercial terms, ``terms`` (the version shown to the owner) must be the current
    one; it is recorded with the consent (``accounts.terms``, ADR 0024)."""
    now = now or timezone.now()
    if not _is_owner(by, premise):
        raise NotPermitted("Only a member of the premise's organisation can give consent for it.")
    fields: dict[str, list[str]] = {}
    if aggregator.kind != Organisation.Kind.AGGREGATOR:
        fields["aggregator"] = ["Not an aggregator."]
    bad = [s for s in scopes if s not in Consent.Scope.values]
    if not scopes or bad:
        fields["scopes"] = [f"Choose from {', '.join(Consent.Scope.values)}."]
    if purpose not in Consent.Purpose.values:
        fields["purpose"] = [f"One of {', '.join(Consent.Purpose.values)}."]
    if timezone.is_naive(expires_at):
        fields["expires_at"] = ["Give a timezone."]
    elif expires_at <= now:
        fields["expires_at"] = ["Must be in the future."]
    if fields:
        raise ApplicationError("The consent is invalid.", fields=fields)
    accepted = consent_terms_check(aggregator=aggregator, purpose=purpose, terms=terms)
    Premise.objects.select_for_update().get(pk=premise.pk)
    existing = consents_active(now=now).filter(premise=premise, aggregator=aggregator, purpose=purpose).first()
    if existing is not None:
        if sorted(existing.scopes) == sorted(set(scopes)) and existing.expires_at == expires_at:
            return existing
        raise Conflict(
            "A consent for this aggregator and purpose is in force; revoke it first.", code=AccountsError.CONSENT_EXISTS
        )
    try:
        with transaction.atomic():
            consent = Consent.objects.create(
                premise=premise,
                aggregator=aggregator,
                granted_by=by,
                scopes=sorted(set(scopes)),
                purpose=purpose,
                granted_at=now,
                expires_at=expires_at,
            )
            consent_terms_record(consent=consent, terms=accepted, now=now)
    except IntegrityError:
        # An expired consent not yet marked by the expiry task still holds the unique slot.
        raise Conflict(
            "A previous consent is still being closed; try again shortly.", code=AccountsError.CONSENT_EXISTS
        ) from None
    _audit(
        AuditEntry.Subject.CONSENT,
        consent,
        organisation=premise.organisation,
        actor=by,
        before="",
        after=Consent.Status.ACTIVE,
        reason=f"Granted to {aggregator.name} for {purpose} ({', '.join(consent.scopes)}) until {expires_at:%Y-%m-%d}"
        + (f"; accepted terms v{accepted.version} (id {accepted.pk})." if accepted else "."),
        now=now,
    )
    return consent


def _close_consent(consent: Consent, *, to: str, actor, reason: str, now: datetime) -> Consent:
    before = consent.status
    consent.status = to
    update = ["status"]
    if to == Consent.Status.REVOKED:
        consent.revoked_at = now
        consent.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
        update += ["revoked_at", "revoked_by"]
    consent.save(update_fields=update)
    _audit(
        AuditEntry.Subject.CONSENT,
        consent,
        organisation=consent.premise.organisation,
        actor=actor,
        before=before,
        after=to,
        reason=reason,
        now=now,
    )
    for enrolment in Enrolment.objects.select_for_update().filter(consent=consent, status=Enrolment.Status.ACTIVE):
        _end(enrolment, actor=actor, reason=f"Consent {to}: {reason}".strip(), now=now)
    _sync_premise_aggregator(consent.premise, now)
    participation_ended_on_commit(
        organisation_id=consent.aggregator_id,
        premise_ids=[consent.premise_id],
        reason=ParticipationEnded.CONSENT_REVOKED
        if to == Consent.Status.REVOKED
        else ParticipationEnded.CONSENT_EXPIRED,
    )
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, by, reason: str = "", now: datetime | None = None) -> Consent:
    """Revoke a consent in force: its enrolments end, the aggregator loses the premise's data and its open
    offers for the premise are withdrawn. Only the premise owner (or a platform admin) may revoke."""
    now = now or timezone.now()
    consent = (
        Consent.objects.select_for_update().select_related("premise__organisation", "aggregator").get(pk=consent.pk)
    )
    if not (_is_owner(by, consent.premise) or user_role(by) == Membership.Role.ADMIN):
        raise NotPermitted("Only the premise owner can revoke this consent.")
    if consent.status != Consent.Status.ACTIVE:
        raise ApplicationError(f"This consent is already {consent.status}.", code=AccountsError.INVALID_STATE)
    return _close_consent(
        consent, to=Consent.Status.REVOKED, actor=by, reason=reason or "Revoked by the owner.", now=now
    )


def consents_expire(*, now: datetime | None = None) -> int:
    """Mark consents past their expiry as expired, with the same effects as a revocation (beat task)."""
    now = now or timezone.now()
    n = 0
    for pk in Consent.objects.filter(status=Consent.Status.ACTIVE, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            consent = (
                Consent.objects.select_for_update().select_related("premise__organisation", "aggregator").get(pk=pk)
            )
            if consent.status != Consent.Status.ACTIVE or consent.expires_at > now:
                continue
            _close_consent(consent, to=Consent.Status.EXPIRED, actor=None, reason="Consent period ended.", now=now)
            n += 1
    return n


def _end(enrolment: Enrolment, *, actor, reason: str, now: datetime) -> None:
    enrolment.status = Enrolment.Status.ENDED
    enrolment.ended_at = now
    enrolment.save(update_fields=["status", "ended_at"])
    _audit(
        AuditEntry.Subject.ENROLMENT,
        enrolment,
        organisation=enrolment.aggregator,
        actor=actor,
        before=Enrolment.Status.ACTIVE,
        after=Enrolment.Status.ENDED,
        reason=reason,
        now=now,
    )


@transaction.atomic
def enrolment_create(
    *,
    premise: Premise,
    aggregator: Organisation,
    by=None,
    service: str = Enrolment.Service.LOCAL_FLEXIBILITY,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    now: datetime | None = None,
) -> Enrolment:
    """Enroll a premise with an aggregator. Refused without a consent in force for flexibility aggregation that
    covers interval readings, when another aggregator holds the premise for the same service and an overlapping
    period (double participation), or when an eligibility rule of the premise's jurisdiction fails."""
    now = now or timezone.now()
    starts_at = starts_at or now
    if by is not None and not any(
        o.pk == aggregator.pk for o in user_organisations(by, role=Membership.Role.AGGREGATOR)
    ):
        raise NotPermitted("Only members of the aggregator may enroll premises for it.")
    if aggregator.kind != Organisation.Kind.AGGREGATOR:
        raise ApplicationError("Not an aggregator.", fields={"aggregator": ["Not an aggregator."]})
    if service not in Enrolment.Service.values:
        raise ApplicationError(
            "Unknown service.", fields={"service": [f"One of {', '.join(Enrolment.Service.values)}."]}
        )
    if ends_at is not None and ends_at <= starts_at:
        raise ApplicationError("The enrolment must end after it starts.", fields={"ends_at": ["Before the start."]})
    premise = Premise.objects.select_for_update().select_related("organisation", "grid_zone").get(pk=premise.pk)
    consent = (
        consents_active(now=now)
        .filter(premise=premise, aggregator=aggregator, purpose=Consent.Purpose.FLEXIBILITY_AGGREGATION)
        .first()
    )
    if consent is None or Consent.Scope.INTERVAL_READINGS not in consent.scopes:
        raise NotPermitted(
            "The premise owner has not consented to this aggregator using its interval data for flexibility "
            "aggregation.",
            code=AccountsError.NO_CONSENT,
            fields={"premise": ["No consent in force."]},
        )
    ends_at = min(ends_at or consent.expires_at, consent.expires_at)  # never beyond the consent
    if starts_at >= ends_at:
        raise ApplicationError(
            "The consent ends before the enrolment would start.", fields={"starts_at": ["After the consent."]}
        )
    same = Enrolment.objects.filter(
        premise=premise, aggregator=aggregator, service=service, status=Enrolment.Status.ACTIVE
    ).first()
    if same is not None:
        return same
    overlap = Enrolment.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=starts_at),
        premise=premise,
        service=service,
        status=Enrolment.Status.ACTIVE,
        starts_at__lt=ends_at,
    ).exclude(aggregator=aggregator)
    if overlap.exists():
        raise Conflict(
            "The premise is already enrolled with another aggregator for this service and period.",
            code=AccountsError.DOUBLE_PARTICIPATION,
            fields={"premise": ["Enrolled elsewhere for this service and period."]},
        )
    failing = [
        r for r in enrolment_eligibility(premise=premise, aggregator=aggregator, now=now) if not r.passed and r.blocking
    ]
    if failing:
        raise ApplicationError(
            "The premise is not eligible: " + " ".join(r.detail for r in failing),
            code=AccountsError.NOT_ELIGIBLE,
            fields={r.rule: [r.detail] for r in failing},
        )
    enrolment = Enrolment.objects.create(
        premise=premise,
        aggregator=aggregator,
        consent=consent,
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    _audit(
        AuditEntry.Subject.ENROLMENT,
        enrolment,
        organisation=aggregator,
        actor=by,
        before="",
        after=Enrolment.Status.ACTIVE,
        reason=f"Enrolled for {service} under consent #{consent.pk}.",
        now=now,
    )
    _sync_premise_aggregator(premise, now)
    return enrolment
