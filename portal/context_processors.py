"""Template context: the signed-in user's portal role, for the per-role navigation."""

from accounts import policies


def portal_role(request) -> dict:
    return {"portal_role": policies.role(getattr(request, "user", None))}


def emergency_stop(request) -> dict:
    """While the emergency stop is engaged, every page (of every role) shows the banner: one indexed query."""
    from activation.services.emergency_stop import emergency_stop_active

    if not getattr(getattr(request, "user", None), "is_authenticated", False):
        return {}
    return {"emergency_stop_engaged": emergency_stop_active()}
