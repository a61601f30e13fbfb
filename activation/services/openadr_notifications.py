"""OpenADR 3 subscription notifications through the outbox: every create, update and delete of a VTN object
(program, event, report, subscription, VEN, resource) notifies the subscriptions that asked for it
(``subscription.objectOperations``, OpenADR 3.0.1 OpenAPI definition). Called by dispatch, cancellation and the
VTN services (``activation.openadr_services``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from .. import openadr_objects as openadr
from ..models import DREvent, OadrSubscription, OutboxMessage, VenResource
from .openadr_notifiers import notifier_enabled, notifier_publish
from .outbox import outbox_flush_on_commit, outbox_put

OPERATION_VERB = {"CREATE": "POST", "UPDATE": "PUT", "DELETE": "DELETE"}


def openadr_object(object_type: str, obj) -> dict:

    return {
        "PROGRAM": openadr.program_object,
        "EVENT": openadr.event_object,
        "REPORT": openadr.report_object,
        "SUBSCRIPTION": openadr.subscription_object,
        "VEN": openadr.ven_object,
        "RESOURCE": openadr.resource_object,
    }[object_type](obj)


def _targets_match(wanted, targets) -> bool:
    """A subscription's ``targets`` filter callbacks: an object with targets must share a value of a type."""
    if not wanted or not targets:
        return True
    return any(
        w.get("type") == t.get("type") and set(map(str, w.get("values") or [])) & set(map(str, t.get("values") or []))
        for w in wanted
        for t in targets
    )


def notify(
    *,
    object_type: str,
    operation: str,
    obj: dict,
    program_id: int | None = None,
    owner_ven_id: int | None = None,
    event: DREvent | None = None,
    now: datetime | None = None,
    exclude_subscription: int | None = None,
    readers: set[int] | None = None,
) -> int:
    """Queue one OpenADR 3 ``notification`` per subscription callback that asked for ``object_type`` and
    ``operation`` (CREATE, UPDATE, DELETE), in the caller's transaction. Returns how many were queued.

    Which subscriptions: for programs, events, reports and subscriptions those on the object's program; for VENs
    and resources (which have no program), and for a program's creation, every subscription. A VEN's subscription hears only of what that VEN
    may read: every program, events targeting one of its resources, its own reports, subscriptions, VEN object
    and resources. The BL's subscriptions hear of everything. Subscription ``targets`` filter objects that carry
    targets. ``readers``: the VENs an event the VTN keeps without dispatching reaches (``activation.openadr_events``).
    """
    now = now or timezone.now()
    notifier_publish(  # OpenADR 3.1.0 notifiers: the MQTT binding, whoever subscribed over HTTP
        object_type=object_type,
        operation=operation,
        obj=obj,
        program_id=program_id,
        owner_ven_id=owner_ven_id,
        event=event,
        readers=readers,
        now=now,
    )
    subs = OadrSubscription.objects.order_by("id")
    if object_type not in ("VEN", "RESOURCE") and (object_type, operation) != ("PROGRAM", "CREATE"):
        # A new program has no subscriptions of its own yet; a subscription without a program (3.1.0) hears of all.
        subs = subs.filter(Q(program_id=program_id) | Q(program__isnull=True))
    if exclude_subscription is not None:
        subs = subs.exclude(pk=exclude_subscription)
    ven_premises: dict[int, set[int]] = {}
    queued = 0
    for sub in subs:
        if sub.ven_id is not None:
            if object_type == "EVENT" and readers is not None:
                if sub.ven_id not in readers:
                    continue
            elif object_type == "EVENT":
                if sub.ven_id not in ven_premises:
                    ven_premises[sub.ven_id] = set(
                        VenResource.objects.filter(ven_id=sub.ven_id, premise__isnull=False).values_list(
                            "premise_id", flat=True
                        )
                    )
                if event is None or event.premise_id not in ven_premises[sub.ven_id]:
                    continue
            elif object_type != "PROGRAM" and sub.ven_id != owner_ven_id:
                continue
        if not _targets_match(sub.targets, obj.get("targets")):
            continue
        for n, op in enumerate(sub.object_operations or []):
            if object_type not in (op.get("objects") or []) or operation not in (op.get("operations") or []):
                continue
            if not str(op.get("callbackUrl", "")).startswith(("http://", "https://")):
                continue  # a callback the VTN cannot call (3.1.0 allows any URI; its VEN may listen on MQTT)
            if event is not None and object_type == "EVENT" and operation == "CREATE":
                destination = f"subscription-{sub.pk}-{n}"  # once per event (a second dispatch is a no-op)
            elif event is not None and object_type == "EVENT" and operation == "DELETE":
                destination = f"subscription-{sub.pk}-{n}-DELETE"
            else:
                destination = f"subscription-{sub.pk}-{n}-{operation}-{uuid.uuid4().hex[:12]}"
            outbox_put(
                event=event,
                channel=OutboxMessage.Channel.WEBHOOK,
                destination=destination,
                topic=op["callbackUrl"],
                payload={
                    "objectType": object_type,
                    "operation": OPERATION_VERB[operation],
                    "object": obj,
                    "bearerToken": op.get("bearerToken"),
                },
                now=now,
                ack_by=None,
            )
            queued += 1
    outbox_flush_on_commit()
    return queued


def notify_event(*, event: DREvent, operation: str, now: datetime | None = None) -> None:
    """Notifications about an event to the subscriptions on its program (a VEN's only if the event targets one
    of its resources). A CREATE or DELETE is sent once per event and callback, an UPDATE once per revision."""
    if not event.program_id:
        return
    if (
        not notifier_enabled()
        and not OadrSubscription.objects.filter(Q(program_id=event.program_id) | Q(program__isnull=True)).exists()
    ):
        return
    notify(
        object_type="EVENT",
        operation=operation,
        obj=openadr_object("EVENT", event),
        program_id=event.program_id,
        event=event,
        now=now,
    )
