"""OpenADR 3.1.0 notifiers: the MQTT binding. Every create, update and delete of a VTN object is published as a
3.1.0 ``notification`` (JSON) to the MQTT topics the spec's notifier endpoints name (``/notifiers``,
``/notifiers/mqtt/topics/...``; OpenADR 3.1.0 OpenAPI definition, ``notifiersResponse``,
``notifierOperationsTopics``), through the transactional outbox (ADR 0010) like device commands: written in the
caller's transaction, published at QoS 1 after commit, retried while the broker is away, held by the emergency stop.

Topics, under ``settings.OPENADR_MQTT_TOPIC_ROOT`` (default ``openadr3/3.1.0``), one per operation
(``create``, ``update``, ``delete``; ``+`` for all)::

    programs/<op>                 programs/<programID>/<op>        (no create for one object)
    events/<op>                   programs/<programID>/events/<op>   vens/<venID>/events/<op>
                                  vens/<venID>/programs/<programID>/events/<op>
    reports/<op>                  subscriptions/<op>
    vens/<op>                     vens/<venID>/<op>                vens/<venID>/programs/<op>
    resources/<op>                vens/<venID>/resources/<op>

A VEN's topics carry what that VEN may read: every program, the events that target its resources, its own
resources. A program's events are listed to a VEN (``/notifiers/mqtt/topics/programs/{id}/events``) as its
own ``vens/<venID>/programs/<programID>/events`` topics, so it never hears of events aimed at others. The broker (Mosquitto here) is reached anonymously on the URI ``/notifiers`` announces.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings

from .. import openadr_v31
from ..models import DREvent, OutboxMessage, Ven, VenResource
from .outbox import outbox_put

OPERATIONS = ("CREATE", "UPDATE", "DELETE")


def notifier_enabled() -> bool:
    return bool(getattr(settings, "OPENADR_MQTT_NOTIFIER", True))


def topic_root() -> str:
    return getattr(settings, "OPENADR_MQTT_TOPIC_ROOT", "openadr3/3.1.0").rstrip("/")


def mqtt_binding() -> dict:
    """The ``mqttNotifierBindingObject`` of ``GET /notifiers``."""
    uri = getattr(settings, "OPENADR_MQTT_BROKER_URI", "") or f"mqtt://{settings.MQTT_HOST}:{settings.MQTT_PORT}"
    return {"URIS": [uri], "serialization": "JSON", "authentication": {"method": "ANONYMOUS"}}


def topics(path: str, *, create: bool = True) -> dict:
    """The ``notifierTopicsResponse`` for a topic path (``programs``, ``vens/7/events``...): one topic per
    operation and ``ALL``; no CREATE topic for one object (it cannot be subscribed to before it exists)."""
    base = f"{topic_root()}/{path}"
    out = {op: f"{base}/{op.lower()}" for op in OPERATIONS if create or op != "CREATE"}
    out["ALL"] = f"{base}/+"
    return {"topics": out}


def _topic(path: str, operation: str) -> str:
    return f"{topic_root()}/{path}/{operation.lower()}"


def _paths(*, object_type: str, operation: str, obj: dict, program_id, owner_ven_id, event, readers) -> list[str]:
    one = operation != "CREATE"
    if object_type == "PROGRAM":
        paths = ["programs"] + ([f"programs/{obj['id']}"] if one else [])
        return paths + [f"vens/{v}/programs" for v in Ven.objects.order_by("id").values_list("id", flat=True)]
    if object_type == "EVENT":
        paths = ["events", f"programs/{program_id}/events"]
        vens = sorted(readers or ())
        if event is not None and event.premise_id:
            vens = (
                VenResource.objects.filter(premise_id=event.premise_id)
                .order_by("ven_id")
                .values_list("ven_id", flat=True)
                .distinct()
            )
        for v in vens:
            paths += [f"vens/{v}/events", f"vens/{v}/programs/{program_id}/events"]
        return paths
    if object_type == "REPORT":
        return ["reports"]
    if object_type == "SUBSCRIPTION":
        return ["subscriptions"]
    if object_type == "VEN":
        return ["vens"] + ([f"vens/{obj['id']}"] if one else [])
    if object_type == "RESOURCE":
        return ["resources"] + ([f"vens/{owner_ven_id}/resources"] if owner_ven_id else [])
    raise ValueError(f"object type {object_type}")


def notifier_publish(
    *,
    object_type: str,
    operation: str,
    obj: dict,
    program_id: int | None = None,
    owner_ven_id: int | None = None,
    event: DREvent | None = None,
    readers: set[int] | None = None,
    now: datetime,
) -> int:
    """Queue the 3.1.0 notification of one operation on one object to each of its MQTT topics, in the caller's
    transaction (``obj`` is the VTN's object in its canonical 3.0.1 form). An event's readers are the VENs with a
    resource at its premise (a dispatched event) or ``readers`` (an event the VTN keeps without dispatching). An event's CREATE is queued once per
    topic (a second dispatch of the same event is a no-op). Returns how many messages were queued."""
    if not notifier_enabled():
        return 0
    client_id = None
    if owner_ven_id is not None and object_type in ("REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"):
        client_id = Ven.objects.filter(pk=owner_ven_id).values_list("client__client_id", flat=True).first()
    payload = openadr_v31.notification_v31(object_type, operation, obj, client_id=client_id)
    paths = _paths(
        object_type=object_type,
        operation=operation,
        obj=obj,
        program_id=program_id,
        owner_ven_id=owner_ven_id,
        event=event,
        readers=readers,
    )
    for path in paths:
        topic = _topic(path, operation)
        once = object_type == "EVENT" and operation in ("CREATE", "DELETE") and event is not None
        # Never tied to the event row: the event's MQTT rows are its device commands (acks, performance).
        outbox_put(
            event=None,
            channel=OutboxMessage.Channel.MQTT,
            destination=f"oadr31:{topic}:event-{event.pk}" if once else f"oadr31:{topic}#{uuid.uuid4().hex[:12]}",
            topic=topic,
            payload=payload,
            now=now,
            ack_by=None,
        )
    return len(paths)
