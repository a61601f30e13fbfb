"""Who may do what, for which organisation, where: the platform's permission and scope rules, in one module.

Services call these rules with the acting user (or organisation), so every entry point (REST API, portal form,
admin action, task) gets the same answer; API permission classes (``accounts.permissions``) are thin wrappers
over them. The rules (README "Roles"):

- a user's role is the highest of their memberships: admin > auditor > grid operator > aggregator > consumer
  (a superuser is an admin);
- the acting organisation is the user's first organisation (by membership) under the role they act in;
- admins and auditors read everything; auditors write nothing;
- a grid operator serves its service zones and every zone below them in the grid hierarchy, and acts
  (events, cascades, emergency calls, clearing runs) only there; admins act in every zone;
- consumers read and write their own premises, aggregators the premises whose consent to them is in force,
  operators read the premises in their zones;
- an annual tax statement is read by its organisation's members, admins and auditors, and by an aggregator for a
  member whose terms say so (:func:`tax_statement_readable`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from flexplatform.errors import NotPermitted

from . import selectors
from .models import Consent, Enrolment, GridZone, Membership, Organisation, Premise

R = Membership.Role

#: roles that read every record (admins also write; auditors never do)
READ_ALL_ROLES = (R.ADMIN, R.AUDITOR)
#: roles that act for the grid: events, cascades, emergency calls, requests
OPERATOR_ROLES = (R.GRID_OPERATOR, R.ADMIN)
#: roles that write premise data (meters, devices, readings)
PREMISE_WRITER_ROLES = (R.CONSUMER, R.AGGREGATOR, R.ADMIN)
#: roles that stake their organisation's tokens and vote on market parameters (participants only: operators,
#: admins and auditors hold no tokens and cast no votes)
STAKE_AND_VOTE_ROLES = (R.CONSUMER, R.AGGREGATOR)


def role(user) -> str | None:
    """The user's main role (admin > auditor > grid operator > aggregator > consumer), or None."""
    return selectors.user_role(user)


def organisations(user, *, role: str | None = None) -> list[Organisation]:
    """The user's organisations, under ``role`` when given (membership order)."""
    return selectors.user_organisations(user, role=role)


def acting_organisation(user, role: str | None = None) -> Organisation | None:
    """The organisation the user acts for: their first under ``role`` (their main role when not given).

    The one way every API, portal page and service finds it."""
    orgs = organisations(user, role=role if role is not None else selectors.user_role(user))
    return orgs[0] if orgs else None


def is_admin(user) -> bool:
    return role(user) == R.ADMIN


def reads_everything(user) -> bool:
    """Admins and auditors read every record."""
    return role(user) in READ_ALL_ROLES


def kyc_documents_readable(user) -> bool:
    """Uploaded identity documents: platform admins (and superusers) and auditors only; never the owner's
    counterparties, operators or aggregators (FATF R.10 record keeping: the reviewer and the auditor)."""
    return reads_everything(user)


def may_manage_members(user, organisation: Organisation | int) -> bool:
    """Invite members and revoke invitations: a member of that organisation who manages members, or a platform
    admin. Auditors never (they write nothing)."""
    if not getattr(user, "is_authenticated", False) or role(user) == R.AUDITOR:
        return False
    if is_admin(user):
        return True
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    return any(m.organisation_id == org_id and m.manages_members for m in selectors.user_memberships(user))


def may_write(user) -> bool:
    """Auditors read everything and write nothing; anyone else writes what their role allows."""
    return role(user) not in (None, R.AUDITOR)


def has_role(user, roles: Iterable[str]) -> bool:
    return role(user) in tuple(roles)


def require_role(user, roles: Iterable[str], message: str = "Your role may not do this.") -> str:
    """The user's role when it is one of ``roles``; :class:`NotPermitted` (403) otherwise."""
    found = role(user)
    if found not in tuple(roles):
        raise NotPermitted(message)
    return found


def may_act_for(user, organisation: Organisation | int, *, role: str | None = None) -> bool:
    """Whether the user is a member of ``organisation`` (under ``role`` when given); admins act for anyone."""
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    if is_admin(user):
        return True
    return any(o.pk == org_id for o in organisations(user, role=role))


def require_act_for(user, organisation: Organisation | int, *, role: str | None = None, field: str = "") -> None:
    if not may_act_for(user, organisation, role=role):
        raise NotPermitted(
            "You may not act for that organisation.",
            fields={field: ["Not your organisation."]} if field else None,
        )


def operator_zone_ids(user) -> set[int]:
    """The zones a grid operator serves: its service zones and every zone below them."""
    return selectors.operator_zone_ids(user)


def zone_scope(user) -> set[int] | None:
    """The zone ids a user's zone-scoped reads are limited to: None (every zone) for admins and auditors, the
    served zones for grid operators, no zone for anyone else."""
    found = role(user)
    if found in READ_ALL_ROLES:
        return None
    if found == R.GRID_OPERATOR:
        return operator_zone_ids(user)
    return set()


def serves_zone(user, zone: GridZone | int) -> bool:
    """Whether the user may act in ``zone``: admins anywhere, grid operators in the zones they serve."""
    zone_id = zone if isinstance(zone, int) else zone.pk
    found = role(user)
    if found == R.ADMIN:
        return True
    return found == R.GRID_OPERATOR and zone_id in operator_zone_ids(user)


def require_zone(user, zone: GridZone | int, *, field: str = "zone") -> None:
    """:class:`NotPermitted` (403) unless the user may act in ``zone`` (:func:`serves_zone`)."""
    if not serves_zone(user, zone):
        raise NotPermitted("That zone is outside your service area.", fields={field: ["Not in your service area."]})


def premises_visible_to(user) -> QuerySet[Premise]:
    """The premises the user may read: consumers their own, aggregators those whose consent to them is in force,
    operators those in their zones, admins and auditors every premise."""
    return selectors.premises_visible_to(user)


def premises_writable_by(user) -> QuerySet[Premise]:
    """The premises whose data (meters, devices, readings, flexibility) the user may write: consumers their own,
    aggregators those consented to them, admins every premise; operators and auditors none."""
    if role(user) not in PREMISE_WRITER_ROLES:
        return Premise.objects.none()
    return premises_visible_to(user)


def require_premise_writable(user, premise: Premise | int, *, field: str = "premise") -> None:
    premise_id = premise if isinstance(premise, int) else premise.pk
    if not premises_writable_by(user).filter(pk=premise_id).exists():
        raise NotPermitted("You may not write this premise's data.", fields={field: ["Not your premise."]})


def require_acting_organisation(user, roles: Iterable[str] | None = None) -> Organisation:
    """The organisation the user acts for under the first of ``roles`` they hold (their main role when not
    given); :class:`NotPermitted` (403) when they act for none."""
    for r in (role(user),) if roles is None else tuple(roles):
        orgs = organisations(user, role=r)
        if orgs:
            return orgs[0]
    raise NotPermitted("You act for no organisation that may do this.")


def organisation_scope(user) -> list[Organisation] | None:
    """The organisations whose own records (settlement items, disputes, statements) the user may read: None (every
    organisation) for admins and auditors, the user's organisations for anyone else."""
    if reads_everything(user):
        return None
    return organisations(user)


def consents_visible_to(user) -> QuerySet[Consent]:
    """Consents the user may read: a consumer those on its premises, an aggregator those given to it, an operator
    those on premises in its zones, admins and auditors every consent."""
    return _premise_scoped(user, Consent.objects.all(), own_field="premise__organisation__in")


def enrolments_visible_to(user) -> QuerySet[Enrolment]:
    """Enrolments the user may read, scoped as :func:`consents_visible_to`."""
    return _premise_scoped(user, Enrolment.objects.all(), own_field="premise__organisation__in")


def _premise_scoped(user, qs: QuerySet, *, own_field: str) -> QuerySet:
    found = role(user)
    if found in READ_ALL_ROLES:
        return qs
    if found == R.CONSUMER:
        return qs.filter(**{own_field: organisations(user, role=R.CONSUMER)})
    if found == R.AGGREGATOR:
        return qs.filter(aggregator__in=organisations(user, role=R.AGGREGATOR))
    if found == R.GRID_OPERATOR:
        return qs.filter(premise__grid_zone_id__in=operator_zone_ids(user))
    return qs.none()


def aggregator_terms_share_billing(aggregator: Organisation | int, member: Organisation | int) -> bool:
    """Whether ``member``'s terms with ``aggregator`` let the aggregator read its billing and tax records: an active
    enrolment of one of the member's premises with the aggregator, under a consent in force whose scopes include
    ``billing`` ("Tariff and billing data"). The one place the enrolment terms are asked (ADR 0026)."""
    aggregator_id = aggregator if isinstance(aggregator, int) else aggregator.pk
    member_id = member if isinstance(member, int) else member.pk
    now = timezone.now()
    for scopes in Enrolment.objects.filter(
        aggregator_id=aggregator_id,
        premise__organisation_id=member_id,
        status=Enrolment.Status.ACTIVE,
        consent__status=Consent.Status.ACTIVE,
        consent__expires_at__gt=now,
    ).values_list("consent__scopes", flat=True):
        if Consent.Scope.BILLING in (scopes or []):
            return True
    return False


def tax_statement_readable(user, organisation: Organisation | int) -> bool:
    """Who reads an organisation's annual tax statement: its members, admins and auditors, and the members of an
    aggregator for a member organisation whose terms say so (:func:`aggregator_terms_share_billing`)."""
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    if reads_everything(user):
        return True
    if any(o.pk == org_id for o in organisations(user)):
        return True
    return any(aggregator_terms_share_billing(a, org_id) for a in organisations(user, role=R.AGGREGATOR))


def require_tax_statement_readable(user, organisation: Organisation | int) -> None:
    if not tax_statement_readable(user, organisation):
        raise NotPermitted(
            "You may not read that organisation's tax statement.", fields={"organisation": ["Not yours."]}
        )
