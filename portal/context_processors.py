"""Template context: the signed-in user's portal role, for the per-role navigation."""

from accounts.selectors import user_role


def portal_role(request) -> dict:
    return {"portal_role": user_role(getattr(request, "user", None))}
