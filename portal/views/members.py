"""An organisation's members: the list, invitations by email with a role (for members who manage members), and
the invitee's accept page (sign in, or set a password for a new account). Thin callers of ``accounts.invitations``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts import invitations, policies
from accounts.selectors.members import organisation_members
from flexplatform.errors import ApplicationError, NotFound


@login_required
def members_page(request):
    organisation = policies.acting_organisation(request.user)
    if organisation is None:
        raise PermissionDenied("You are not a member of any organisation.")
    manages = policies.may_manage_members(request.user, organisation)
    errors: dict = {}
    if request.method == "POST":
        if not manages:
            raise PermissionDenied("Only a member who manages members may invite or withdraw invitations.")
        action = request.POST.get("action")
        try:
            if action == "invite":
                issued = invitations.invitation_create(
                    organisation=organisation,
                    email=request.POST.get("email", ""),
                    role=request.POST.get("role", ""),
                    manages_members=request.POST.get("manages_members") == "on",
                    by=request.user,
                    accept_url=request.build_absolute_uri(reverse("portal:invitation-prefix")),
                )
                messages.success(request, f"Invitation sent to {issued.invitation.email}.")
                return redirect("portal:members")
            if action == "revoke":
                invitations.invitation_revoke(invitation_id=int(request.POST.get("invitation") or 0), by=request.user)
                messages.success(request, "Invitation withdrawn: its link no longer works.")
                return redirect("portal:members")
        except ApplicationError as exc:
            errors = exc.fields
            messages.error(request, exc.detail)
    context = {"organisation": organisation, "manages": manages, "errors": errors, "posted": request.POST}
    context.update(organisation_members(organisation))
    return render(request, "portal/members.html", context, status=400 if errors else 200)


def invitation_page(request, token: str):
    try:
        invitation = invitations.invitation_for_token(token)
    except NotFound as exc:
        return render(request, "portal/invitation.html", {"invalid": exc.detail}, status=404)
    errors: dict = {}
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                membership = invitations.invitation_accept(token=token, user=request.user)
            else:
                user = invitations.invitation_accept_new_account(token=token, password=request.POST.get("password", ""))
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                membership = user.memberships.get(organisation_id=invitation.organisation_id)
            messages.success(
                request,
                f"Welcome to {membership.organisation.name}: you are a member as {membership.get_role_display()}.",
            )
            return redirect("portal:home")
        except ApplicationError as exc:
            errors = exc.fields
            messages.error(request, exc.detail)
    context = {
        "invitation": invitation,
        "problem": invitations.invitation_problem(invitation),
        "errors": errors,
        "has_account": invitations.account_exists(invitation.email),
        "wrong_user": request.user.is_authenticated and request.user.email.lower() != invitation.email,
    }
    return render(request, "portal/invitation.html", context, status=400 if errors else 200)
