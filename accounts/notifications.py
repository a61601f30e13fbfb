"""Notifications of facts to the members of an organisation (ADR 0030): written in the caller's transaction (the
fact and its notification commit together or not at all), one per user and fact (``key``: a fact noticed twice
notifies once), honouring each user's preferences; the emails leave from the outbox (``email_status``) through a
Celery task enqueued on commit, which sends each notification's email at most once (row lock, status check).

The lowest layer that can hold them: activation, market and settlement (above accounts) call
:func:`notification_create` from their services."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Membership, Notification, NotificationKind, NotificationPreference

EMAIL_BATCH = 200
EMAIL_MAX_ATTEMPTS = 5


def notification_create(
    *,
    organisation_ids: Iterable[int],
    kind: str,
    key: str,
    title: str,
    body: str = "",
    url: str = "",
    now: datetime | None = None,
) -> int:
    """Notify every member of the organisations of one fact; returns how many notifications were written (0 for
    a fact already notified)."""
    fact = {"organisation_ids": organisation_ids, "kind": kind, "key": key, "title": title, "body": body, "url": url}
    return notifications_create(facts=[fact], now=now)


def notifications_create(*, facts: list[dict], now: datetime | None = None) -> int:
    """Notify many facts at once (each a dict of :func:`notification_create`'s arguments): three queries whatever
    the number of facts and members; the email task is enqueued once, on commit."""
    now = now or timezone.now()
    org_ids = set()
    known = set(NotificationKind.values)  # built once (``values`` is a new list per read: 2,000 facts per call)
    for f in facts:
        if f["kind"] not in known:
            raise ValueError(f"unknown notification kind {f['kind']!r}")
        f["organisation_ids"] = {o for o in f["organisation_ids"] if o is not None}
        org_ids |= f["organisation_ids"]
    if not org_ids:
        return 0
    members: dict[int, set[int]] = {}
    for org, user in Membership.objects.filter(organisation_id__in=org_ids).values_list("organisation_id", "user_id"):
        members.setdefault(org, set()).add(user)
    users = set().union(*members.values()) if members else set()
    if not users:
        return 0
    kinds = {f["kind"] for f in facts}
    prefs = {
        (u, k): (in_app, email)
        for u, k, in_app, email in NotificationPreference.objects.filter(user_id__in=users, kind__in=kinds).values_list(
            "user_id", "kind", "in_app", "email"
        )
    }
    rows = []
    for f in facts:
        for user_id in sorted(set().union(*(members.get(o, set()) for o in f["organisation_ids"]))):
            in_app, email = prefs.get((user_id, f["kind"]), (True, True))
            if not (in_app or email):
                continue
            rows.append(
                Notification(
                    user_id=user_id,
                    kind=f["kind"],
                    key=f["key"][:120],
                    title=f["title"][:200],
                    body=f.get("body", ""),
                    url=f.get("url", "")[:300],
                    in_app=in_app,
                    created_at=now,
                    email_status=Notification.EmailStatus.PENDING if email else Notification.EmailStatus.SKIPPED,
                )
            )
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(r.email_status == Notification.EmailStatus.PENDING for r in rows):
        transaction.on_commit(_enqueue_emails)
    return len(created)


def _enqueue_emails() -> None:
    from .tasks import send_notification_emails

    send_notification_emails.delay()


def notification_emails_send(*, limit: int = EMAIL_BATCH) -> int:
    """Send the pending emails (outbox): each row is locked, re-checked and marked sent in one transaction, so a
    task delivered twice, or two workers, send nothing twice. Returns the number sent."""
    sent = 0
    ids = list(
        Notification.objects.filter(email_status=Notification.EmailStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        with transaction.atomic():
            n = (
                Notification.objects.select_for_update(skip_locked=True)
                .select_related("user")
                .filter(pk=pk, email_status=Notification.EmailStatus.PENDING)
                .first()
            )
            if n is None:
                continue
            n.email_attempts += 1
            if not n.user.email:
                n.email_status = Notification.EmailStatus.SKIPPED
            else:
                try:
                    link = f"\n\n{settings.PORTAL_BASE_URL.rstrip('/')}{n.url}" if n.url else ""
                    send_mail(n.title, f"{n.body}{link}", settings.DEFAULT_FROM_EMAIL, [n.user.email])
                except OSError:
                    if n.email_attempts >= EMAIL_MAX_ATTEMPTS:
                        n.email_status = Notification.EmailStatus.FAILED
                    n.save(update_fields=["email_attempts", "email_status"])
                    continue
                n.email_status = Notification.EmailStatus.SENT
                n.emailed_at = timezone.now()
                sent += 1
            n.save(update_fields=["email_attempts", "email_status", "emailed_at"])
    return sent


def notifications_mark_read(*, user, ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Mark the user's notifications read (all of them when ``ids`` is None)."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=now or timezone.now())


def notification_preferences_set(*, user, choices: dict[str, tuple[bool, bool]]) -> None:
    """``choices``: kind -> (in the inbox, by email)."""
    with transaction.atomic():
        for kind, (in_app, email) in choices.items():
            if kind not in NotificationKind.values:
                continue
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": in_app, "email": email}
            )


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, in_app=True, read_at__isnull=True).count()
