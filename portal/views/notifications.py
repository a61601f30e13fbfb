"""The notification inbox (newest first, paginated; opening it marks them read) and the per-user preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Notification, NotificationKind, NotificationPreference
from accounts.notifications import notification_preferences_set, notifications_mark_read

PAGE = 20


@login_required
def inbox(request):
    qs = Notification.objects.filter(user=request.user, in_app=True).order_by("-created_at", "-pk")
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    unread = [n.pk for n in page.object_list if n.read_at is None]
    context = {"page": page, "unread_ids": set(unread)}
    response = render(request, "portal/notifications.html", context)
    notifications_mark_read(user=request.user, ids=unread)  # shown once as new, then read
    return response


@login_required
def preferences(request):
    kinds = NotificationKind.choices
    current = {p.kind: p for p in NotificationPreference.objects.filter(user=request.user)}
    if request.method == "POST":
        choices = {k: (f"in_app_{k}" in request.POST, f"email_{k}" in request.POST) for k, _ in kinds}
        notification_preferences_set(user=request.user, choices=choices)
        messages.success(request, "Notification preferences saved.")
        return redirect("portal:notification-preferences")
    rows = [
        {
            "kind": k,
            "label": label,
            "in_app": current[k].in_app if k in current else True,
            "email": current[k].email if k in current else True,
        }
        for k, label in kinds
    ]
    return render(request, "portal/notification_preferences.html", {"rows": rows})


@login_required
@require_POST
def mark_all_read(request):
    notifications_mark_read(user=request.user)
    return redirect("portal:notifications")
