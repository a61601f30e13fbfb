"""The signed-in user's settings: their API tokens (list, create, rotate, revoke), through ``accounts.tokens``,
the same services the API's ``/accounts/auth/tokens/`` endpoints call."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts import tokens
from flexplatform.errors import ApplicationError


@login_required
def api_tokens(request):
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                _, new_key = tokens.api_token_issue(user=request.user, name=request.POST.get("name", "").strip())
                messages.success(request, "Token created: copy it now, it is not shown again.")
            elif action in ("rotate", "revoke"):
                token_id = int(request.POST.get("token", "0") or 0)
                if action == "rotate":
                    _, new_key = tokens.api_token_rotate(user=request.user, token_id=token_id)
                    messages.success(request, "Token rotated: the old one no longer works. Copy the new one now.")
                else:
                    tokens.api_token_revoke(user=request.user, token_id=token_id)
                    messages.success(request, "Token revoked.")
        except (ApplicationError, ValueError) as exc:
            messages.error(request, f"Refused: {getattr(exc, 'detail', exc)}")
    rows = [{"token": t, "state": tokens.token_state(t, user=request.user)} for t in tokens.api_tokens_of(request.user)]
    return render(request, "portal/api_tokens.html", {"rows": rows, "new_key": new_key})
