"""Template context: the signed-in user's portal role, for the per-role navigation."""

from accounts import policies


def portal_role(request) -> dict:
    return {"portal_role": policies.role(getattr(request, "user", None))}
