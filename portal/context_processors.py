"""Template context: the signed-in user's portal role (for the per-role navigation) and their unread
notifications (the count beside "Notifications", read lazily: one query, only on pages that show it)."""

from django.utils.functional import SimpleLazyObject

from accounts import policies
from accounts.notifications import unread_count


def portal_role(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "portal_role": policies.role(user),
        "unread_notifications": SimpleLazyObject(lambda: unread_count(user)) if user is not None else 0,
    }


def emergency_stop(request) -> dict:
    """While the emergency stop is engaged, every page (of every role) shows the banner: one indexed query."""
    from activation.services.emergency_stop import emergency_stop_active

    if not getattr(getattr(request, "user", None), "is_authenticated", False):
        return {}
    return {"emergency_stop_engaged": emergency_stop_active()}
