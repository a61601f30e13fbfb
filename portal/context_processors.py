"""Template context: the signed-in user's portal role (for the per-role navigation), their unread notifications
(the count beside "Notifications") and the emergency stop banner. The two live figures are read together, lazily,
in one query per request (:func:`layout_figures`), and only on pages that show them."""

from django.utils.functional import SimpleLazyObject

from accounts import policies


def layout_figures(request) -> dict:
    """The layout's live figures for the signed-in user, read once per request: the unread notifications and the
    engaged emergency stop (None when lifted; its row is read only while it is engaged)."""
    cached = getattr(request, "_layout_figures", None)
    if cached is not None:
        return cached
    from django.contrib.auth import get_user_model
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from accounts.models import Notification
    from activation.models import EmergencyStop

    user = request.user
    unread = (
        Notification.objects.filter(user=OuterRef("pk"), in_app=True, read_at__isnull=True)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    engaged = EmergencyStop.objects.filter(engaged=True).order_by("pk").values("pk")[:1]
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values_list(Coalesce(Subquery(unread), 0), Subquery(engaged))
        .first()
    ) or (0, None)
    stop = EmergencyStop.objects.select_related("engaged_by").get(pk=row[1]) if row[1] is not None else None
    request._layout_figures = {"unread": row[0], "stop": stop}
    return request._layout_figures


def _signed_in(request) -> bool:
    return getattr(getattr(request, "user", None), "is_authenticated", False)


def portal_role(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "portal_role": policies.role(user),
        "unread_notifications": SimpleLazyObject(lambda: layout_figures(request)["unread"])
        if _signed_in(request)
        else 0,
    }


def emergency_stop(request) -> dict:
    """While the emergency stop is engaged, every page (of every role) shows the banner."""
    if not _signed_in(request):
        return {}
    return {"emergency_stop_engaged": SimpleLazyObject(lambda: layout_figures(request)["stop"])}
