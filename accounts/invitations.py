"""Organisation membership by invitation: a member who manages members invites an email address with a role;
the invitee accepts through the emailed link, signing in (existing account) or setting a password (new account).

Rules:
- only :func:`accounts.policies.may_manage_members` may invite or revoke (tested with the wrong role and tenant);
- the role must be one the organisation's kind holds (a consumer organisation has consumers; the platform has
  admins and auditors);
- one open invitation per (organisation, email); it expires after ``INVITATION_VALIDITY_DAYS``;
- the link's secret is stored hashed; accepting is idempotent under a race (row lock + the membership's unique
  constraint) and only by the invited address (a signed-in user with another email is refused);
- a new account created from an invitation has its email verified: the link reached that mailbox.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from flexplatform.errors import ApplicationError, Conflict, NotFound, NotPermitted

from . import policies
from .models import Invitation, Membership, Organisation

R = Membership.Role
INVITABLE_ROLES = {
    Organisation.Kind.CONSUMER: (R.CONSUMER,),
    Organisation.Kind.AGGREGATOR: (R.AGGREGATOR,),
    Organisation.Kind.GRID_OPERATOR: (R.GRID_OPERATOR,),
    Organisation.Kind.PLATFORM: (R.ADMIN, R.AUDITOR),
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once: it is in the email's link and nowhere else


def invitation_create(
    *, organisation: Organisation, email: str, role: str, by, manages_members: bool = False, accept_url: str = ""
) -> IssuedInvitation:
    """Invite ``email`` into ``organisation`` as ``role``; the email with the link is sent after commit.

    ``accept_url``: the absolute URL prefix of the accept page (the view passes it; ``{token}`` is appended)."""
    if not policies.may_manage_members(by, organisation):
        raise NotPermitted("Only a member who manages this organisation's members may invite.")
    email = (email or "").strip().lower()
    fields: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except Exception:  # noqa: BLE001 - Django's ValidationError; the message names the field
        fields["email"] = ["Enter a valid email address."]
    allowed = INVITABLE_ROLES.get(organisation.kind, ())
    if role not in allowed:
        fields["role"] = [f"{organisation.get_kind_display()} organisations have: {', '.join(allowed)}."]
    if fields:
        raise ApplicationError("The invitation is invalid.", fields=fields)
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of {organisation.name}.")
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()  # serialise invites per org
        if Invitation.objects.filter(
            organisation=organisation, email=email, accepted_at=None, revoked_at=None, expires_at__gt=now
        ).exists():
            raise Conflict(f"{email} already has an open invitation; revoke it to send a new one.")
        # An expired, never-accepted invitation no longer blocks a new one.
        Invitation.objects.filter(
            organisation=organisation, email=email, accepted_at=None, revoked_at=None, expires_at__lte=now
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organisation=organisation,
            email=email,
            role=role,
            manages_members=manages_members,
            token_hash=_hash(token),
            invited_by=by,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_VALIDITY_DAYS),
        )
        link = f"{accept_url}{token}/"
        transaction.on_commit(lambda: _send(invitation=invitation, link=link))
    return IssuedInvitation(invitation=invitation, token=token)


def _send(*, invitation: Invitation, link: str) -> None:
    send_mail(
        subject=f"You are invited to {invitation.organisation.name} on FlexMarket",
        message=(
            f"{invitation.invited_by.email} invited you to join {invitation.organisation.name} as "
            f"{R(invitation.role).label}.\n\nAccept the invitation: {link}\n\n"
            f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_revoke(*, invitation_id: int, by) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
        if invitation is None or not policies.may_manage_members(by, invitation.organisation_id):
            raise NotFound("No such invitation.")
        if invitation.accepted_at or invitation.revoked_at:
            raise Conflict("This invitation is no longer open.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_for_token(token: str) -> Invitation:
    """The invitation a link names, whatever its state (the page says why it cannot be accepted); 404 if none."""
    invitation = (
        Invitation.objects.select_related("organisation", "invited_by").filter(token_hash=_hash(token or "")).first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    return invitation


def invitation_problem(invitation: Invitation, *, now=None) -> str | None:
    """Why the invitation cannot be accepted now, in words; None when it can."""
    now = now or timezone.now()
    if invitation.accepted_at:
        return "This invitation was already accepted."
    if invitation.revoked_at:
        return "This invitation was withdrawn."
    if invitation.expires_at <= now:
        return f"This invitation expired on {invitation.expires_at:%Y-%m-%d}. Ask for a new one."
    return None


def invitation_accept(*, token: str, user) -> Membership:
    """The signed-in ``user`` accepts: must be the invited address. Accepting twice (or two tabs at once) makes
    one membership and refuses the second."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(token_hash=_hash(token or "")).first()
        if invitation is None:
            raise NotFound("This invitation link is not valid.")
        problem = invitation_problem(invitation)
        if problem:
            raise Conflict(problem)
        if (user.email or "").strip().lower() != invitation.email:
            raise NotPermitted(
                f"This invitation is for {invitation.email}; you are signed in as {user.email}.",
            )
        membership, created = Membership.objects.get_or_create(
            user=user,
            organisation_id=invitation.organisation_id,
            defaults={"role": invitation.role, "manages_members": invitation.manages_members},
        )
        if not created:
            raise Conflict("You are already a member of this organisation.")
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    if hasattr(user, "_memberships_cache"):
        del user._memberships_cache
    return membership


def invitation_accept_new_account(*, token: str, password: str):
    """An invitee without an account sets a password: the account is created for the invited address (verified:
    the link reached that mailbox) and the invitation accepted, in one transaction. Returns the user."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    User = get_user_model()
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(token_hash=_hash(token or "")).first()
        if invitation is None:
            raise NotFound("This invitation link is not valid.")
        problem = invitation_problem(invitation)
        if problem:
            raise Conflict(problem)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise Conflict(f"An account for {invitation.email} exists: sign in to accept.")
        user = User(username=invitation.email, email=invitation.email)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApplicationError("Choose another password.", fields={"password": list(exc.messages)}) from exc
        user.set_password(password)
        user.save()
        EmailAddress.objects.create(user=user, email=invitation.email, primary=True, verified=True)
    invitation_accept(token=token, user=user)
    return user


def account_exists(email: str) -> bool:
    return get_user_model().objects.filter(email__iexact=email).exists()
