"""OpenADR 3.0.1 VTN write services: VEN credentials and self-registration, VENs and resources, programs, events,
reports, subscriptions, and the subscription notifications every create, update and delete sends.

Follows the OpenADR 3.0.1 OpenAPI definition (OpenADR Alliance, ``docs/openadr3/openadr3-3.0.1.yaml``):

* scopes: ``write_programs`` and ``write_events`` only the business logic (BL, the grid operator or admin);
  ``write_reports`` only VENs; ``write_subscriptions`` and ``write_vens`` (VENs and their resources) VENs and
  the BL. The API layer checks the role; these services keep a VEN to its own objects.
* ``POST /vens`` by a VEN is self-registration: the OAuth 2 client (``VenClient``, credentials issued out of
  band) creates its one ``ven`` object; ``venName`` is unique in the VTN, a second registration is a 409.
* ``subscription.objectOperations``: ``objects`` x ``operations`` (CREATE, UPDATE, DELETE) x ``callbackUrl``
  (+ ``bearerToken``). Each matching operation sends a ``notification`` {objectType, operation (POST, PUT,
  DELETE), object} to the callback through the transactional outbox (ADR 0010), never from the request
  (``activation.services.openadr_notifications``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Premise
from accounts.selectors import premises_represented_by
from flexplatform.core import egress
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from . import notify as owner_notify
from .devices import translate
from .errors import ActivationErrorCode as Code
from .models import (
    DREvent,
    Enrollment,
    OadrEvent,
    OadrReport,
    OadrSubscription,
    OutboxMessage,
    Program,
    Ven,
    VenClient,
    VenResource,
    VenToken,
    WebhookEndpoint,
)
from .openadr_reports import report_readings, window_period
from .protocols import mqtt as mqtt_protocol
from .selectors import events_devices
from .services.dispatch import openadr_event_payload
from .services.events import event_cancel
from .services.openadr_notifications import notify, notify_event, openadr_object
from .services.outbox import outbox_flush_on_commit, outbox_put


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- Credentials and tokens -----------------------------------------------------------------------------------


def ven_client_create(*, organisation, client_id: str | None = None, client_secret: str | None = None):
    """Issue OAuth 2 client credentials for a VEN of ``organisation``; returns (client, secret). The secret is
    shown once (stored as sha256)."""
    client_id = client_id or f"ven-{secrets.token_hex(6)}"
    secret = client_secret or secrets.token_urlsafe(24)
    if len(secret) < 12:
        raise ApplicationError("The secret must be at least 12 characters.", fields={"client_secret": ["Too short."]})
    try:
        with transaction.atomic():
            client = VenClient.objects.create(client_id=client_id, secret_hash=_sha(secret), organisation=organisation)
    except IntegrityError:
        raise Conflict(f"Client {client_id} exists.", code=Code.CLIENT_EXISTS) from None
    return client, secret


def ven_register(
    *, ven_name: str, client_id: str, client_secret: str, organisation=None, attributes=None, targets=None
) -> Ven:
    """Out-of-band registration (operator tooling, demo): credentials and the VEN object at once."""
    with transaction.atomic():
        client, _ = ven_client_create(organisation=organisation, client_id=client_id, client_secret=client_secret)
        return ven_create(ven_name=ven_name, attributes=attributes, targets=targets, client=client)


def ven_provision_for_client(*, client_id: str, ven_name: str, attributes=None, targets=None) -> Ven:
    """OpenADR 3.1.0 ``BL_VEN_REQUEST``: the business logic creates the VEN of ``client_id``. An unknown client id
    is provisioned without a secret (it can get no token until its credentials are issued out of band); one row per
    client id even when two requests race (``get_or_create`` on the unique client id)."""
    with transaction.atomic():
        client, _ = VenClient.objects.get_or_create(client_id=client_id, defaults={"secret_hash": ""})
        return ven_create(ven_name=ven_name, attributes=attributes, targets=targets, client=client)


def ven_token_issue(*, client_id: str, client_secret: str, now: datetime | None = None, ttl_seconds: int = 3600):
    """OAuth 2 client-credentials grant (RFC 6749 §4.4) for a VEN client; returns (token, expires_in) or None."""
    now = now or timezone.now()
    client = VenClient.objects.filter(client_id=client_id).first()
    if client is None or not hmac.compare_digest(client.secret_hash, _sha(client_secret)):
        return None
    token = secrets.token_urlsafe(32)
    VenToken.objects.create(client=client, token_hash=_sha(token), expires_at=now + timedelta(seconds=ttl_seconds))
    return token, ttl_seconds


def ven_client_for_token(token: str, *, now: datetime | None = None) -> VenClient | None:

    now = now or timezone.now()
    row = VenToken.objects.filter(token_hash=_sha(token), expires_at__gt=now).select_related("client").first()
    return row.client if row else None


# --- VENs and resources ---------------------------------------------------------------------------------------


def _ven_name_free(ven_name: str, *, exclude: int | None = None) -> None:
    if Ven.objects.filter(ven_name=ven_name).exclude(pk=exclude).exists():
        raise Conflict(f"A VEN named {ven_name} is registered.", code=Code.VEN_EXISTS)


def ven_create(
    *, ven_name: str, attributes=None, targets=None, resources=None, client: VenClient | None = None, now=None
) -> Ven:
    """Create a ``ven``: by its own client (self-registration, one VEN per client) or by the BL (no client),
    with the ``resources`` its object lists. The same venName twice, or a client that already has its VEN, is a
    conflict (409), never a duplicate."""
    with transaction.atomic():
        if client is not None:
            client = VenClient.objects.select_for_update().get(pk=client.pk)
            existing = Ven.objects.filter(client=client).first()
            if existing is not None:
                raise Conflict(f"This client is registered as VEN {existing.ven_name}.", code=Code.VEN_REGISTERED)
        _ven_name_free(ven_name)
        try:
            with transaction.atomic():
                ven = Ven.objects.create(
                    ven_name=ven_name,
                    client=client,
                    organisation=client.organisation if client else None,
                    attributes=attributes,
                    targets=targets,
                )
        except IntegrityError:  # registered concurrently
            raise Conflict(f"A VEN named {ven_name} is registered.", code=Code.VEN_EXISTS) from None
        for r in resources or []:
            ven_resource_upsert(
                ven=ven, resource_name=r["resourceName"], attributes=r.get("attributes"), targets=r.get("targets")
            )
        notify(object_type="VEN", operation="CREATE", obj=openadr_object("VEN", ven), owner_ven_id=ven.pk, now=now)
    return ven


def ven_update(*, ven: Ven, ven_name: str, attributes=None, targets=None, now=None) -> Ven:
    with transaction.atomic():
        ven = Ven.objects.select_for_update().get(pk=ven.pk)
        _ven_name_free(ven_name, exclude=ven.pk)
        ven.ven_name, ven.attributes, ven.targets = ven_name, attributes, targets
        ven.save(update_fields=["ven_name", "attributes", "targets", "modified_at"])
        notify(object_type="VEN", operation="UPDATE", obj=openadr_object("VEN", ven), owner_ven_id=ven.pk, now=now)
    return ven


def ven_delete(*, ven: Ven, now=None) -> dict:
    """Delete a VEN with its resources and subscriptions (its reports stay, without the VEN). Returns the object
    as it was."""
    with transaction.atomic():
        ven = Ven.objects.select_for_update().get(pk=ven.pk)
        out, pk = openadr_object("VEN", ven), ven.pk
        ven.delete()  # its subscriptions go with it, so only the others are told
        notify(object_type="VEN", operation="DELETE", obj=out, owner_ven_id=pk, now=now)
    return out


def ven_resource_upsert(*, ven: Ven, resource_name: str, attributes=None, targets=None, resource=None, now=None):
    """Create or update a VEN's resource; a ``PREMISE_ID`` attribute links it to a premise of the VEN's
    organisation (its own, or enrolled with it). resourceName is unique per VEN (409)."""
    premise = None
    for attr in attributes or []:
        if isinstance(attr, dict) and attr.get("type") == "PREMISE_ID" and attr.get("values"):
            try:
                premise = Premise.objects.filter(pk=int(attr["values"][0])).first()
            except (TypeError, ValueError):
                raise ApplicationError(
                    "PREMISE_ID must be a premise id.", fields={"attributes": ["PREMISE_ID"]}
                ) from None
            if (
                premise is None
                or ven.organisation is None
                or not premises_represented_by(ven.organisation).filter(pk=premise.pk).exists()
            ):
                raise NotPermitted("That premise is not one of this VEN's organisation.")
    with transaction.atomic():
        clash = VenResource.objects.filter(ven=ven, resource_name=resource_name)
        if resource is not None:
            clash = clash.exclude(pk=resource.pk)
        if clash.exists():
            raise Conflict(f"Resource {resource_name} exists.", code=Code.RESOURCE_EXISTS)
        created = resource is None
        resource = resource or VenResource(ven=ven)
        resource.resource_name, resource.attributes, resource.targets = resource_name, attributes, targets
        resource.premise = premise
        resource.save()
        notify(
            object_type="RESOURCE",
            operation="CREATE" if created else "UPDATE",
            obj=openadr_object("RESOURCE", resource),
            owner_ven_id=ven.pk,
            now=now,
        )
    return resource


def ven_resource_delete(*, resource: VenResource, now=None) -> dict:
    with transaction.atomic():
        out = openadr_object("RESOURCE", resource)
        notify(object_type="RESOURCE", operation="DELETE", obj=out, owner_ven_id=resource.ven_id, now=now)
        resource.delete()
    return out


# --- Programs -------------------------------------------------------------------------------------------------


def _program_code(program_name: str, *, exclude: int | None) -> str:
    """The platform's slug for a programName: the name itself when it is a free slug, else slug + hash."""
    slug = slugify(program_name)[:64]
    if slug != program_name or Program.objects.filter(code=slug).exclude(pk=exclude).exists():
        slug = f"{slugify(program_name)[:50] or 'program'}-{hashlib.sha256(program_name.encode()).hexdigest()[:8]}"
    return slug


def oadr_program_save(*, program: Program | None, spec: dict, now=None) -> Program:
    """Create (``program`` None) or replace a program from its OpenADR 3 object (kept whole, validated by the
    caller); programName is unique in the VTN (409). The platform's columns take the name; the rules the platform
    acts on (notice, caps, rates) keep their defaults or current values."""
    name = spec["programName"]
    with transaction.atomic():
        same = Program.objects.filter(Q(oadr_spec__programName=name) | Q(code=name, oadr_spec__isnull=True))
        if same.exclude(pk=getattr(program, "pk", None)).exists():
            raise Conflict(f"A program named {name} exists.", code=Code.PROGRAM_EXISTS)
        created = program is None
        program = program or Program()
        if program.code != name:
            program.code = _program_code(name, exclude=program.pk)
        program.name = (spec.get("programLongName") or program.name or name)[:128]
        program.oadr_spec = spec
        program.full_clean()
        program.save()
        notify(
            object_type="PROGRAM",
            operation="CREATE" if created else "UPDATE",
            obj=openadr_object("PROGRAM", program),
            program_id=program.pk,
            now=now,
        )
    return program


def oadr_program_delete(*, program: Program, now=None) -> dict:
    """Delete a program that nothing refers to; one with events, enrollments or cascades is a conflict (409)."""
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program.pk)
        if (
            program.events.exists()
            or program.oadr_events.exists()
            or program.enrollments.exists()
            or program.cascades.exists()
            or program.trigger_rules.exists()
        ):
            raise Conflict(
                f"Program {program.code} has events or enrollments; it cannot be deleted.", code=Code.PROGRAM_IN_USE
            )
        out = openadr_object("PROGRAM", program)
        notify(object_type="PROGRAM", operation="DELETE", obj=out, program_id=program.pk, now=now)
        program.subscriptions.all().delete()
        try:
            with transaction.atomic():
                program.delete()
        except ProtectedError:
            raise Conflict(f"Program {program.code} is in use.", code=Code.PROGRAM_IN_USE) from None
    return out


# --- Events ---------------------------------------------------------------------------------------------------


def oadr_event_update(
    *,
    event_id: int,
    target_kw: Decimal,
    start: datetime,
    end: datetime,
    spec: dict | None = None,
    now: datetime | None = None,
) -> DREvent:
    """The BL revises an event's target and window before it starts (OpenADR 3 ``PUT /events/{id}``).

    Refused (409) once the event has started or ended, or is cancelled; the program's notice and the resource's
    available/safety kW apply as at creation; moving the event to another local day is refused (400: cancel it
    and create a new one, so the per-day caps stay right). Devices that already have their command get the
    revised one through the outbox (``<device>#rev-<tag>``, a new message id), aggregator endpoints an
    ``event.updated`` webhook; commands not yet sent are rewritten
    in place. Subscribers to EVENT UPDATE are notified.
    """
    now = now or timezone.now()
    with transaction.atomic():
        event = (
            DREvent.objects.select_for_update(of=("self",))
            .select_related("program", "premise", "zone")
            .get(pk=event_id)
        )
        if event.status not in (DREvent.Status.SCHEDULED, DREvent.Status.NOTIFIED) or now >= event.start:
            raise Conflict(f"Event {event.pk} is {event.status} and under way or over; it cannot be revised.")
        if event.award_id or event.cascade_id or event.reservation_id:
            raise Conflict(
                f"Event {event.pk} follows its market award, reservation or cascade; it cannot be revised here."
            )
        if end <= start:
            raise ApplicationError("The event must end after it starts.", fields={"intervalPeriod": ["Bad window."]})
        if target_kw <= 0:
            raise ApplicationError("Target must be positive.", fields={"intervals": ["Must reduce load."]})
        program = event.program
        if start - now < timedelta(minutes=program.notice_minutes):
            raise ApplicationError(
                f"The program needs {program.notice_minutes} minutes' notice.",
                code=Code.NOTICE_TOO_SHORT,
                fields={"intervalPeriod": [f"Start at least {program.notice_minutes} minutes from now."]},
            )
        tz = ZoneInfo(event.premise.timezone)
        if start.astimezone(tz).date() != event.start.astimezone(tz).date():
            raise ApplicationError(
                "An event cannot move to another day; delete it and create a new one.",
                fields={"intervalPeriod": ["Same local day as the event."]},
            )
        enrollment = Enrollment.objects.filter(program=program, premise=event.premise).first()
        if enrollment is None:
            raise ApplicationError(f"{event.premise} is no longer enrolled in {program}.", code=Code.NOT_ENROLLED)
        limit = min((enrollment.committed_kw * enrollment.derate).quantize(Decimal("0.001")), enrollment.safety_max_kw)
        if target_kw > limit:
            raise ApplicationError(
                f"Target {target_kw} kW is above the resource's available {limit} kW.",
                code=Code.ABOVE_CAPACITY,
                fields={"intervals": [f"At most {limit} kW."]},
            )
        target_kw = target_kw.quantize(Decimal("0.001"))
        before = (event.target_kw, event.start, event.end)
        event.target_kw, event.start, event.end, event.revised_at = target_kw, start, end, now
        event.oadr_spec = spec if spec is not None else event.oadr_spec
        event.save(update_fields=["target_kw", "start", "end", "revised_at", "oadr_spec"])
        if event.status == DREvent.Status.NOTIFIED:
            commands = translate(
                devices=events_devices([event], now=now)[event.pk],
                reduction_kw=target_kw,
                duration_minutes=int((end - start).total_seconds() // 60),
                safety_max_kw=enrollment.safety_max_kw,
            )
            # Locked: a flush publishing these rows finishes first, so a row rewritten in place is still unsent.
            rows = OutboxMessage.objects.select_for_update().filter(event=event, channel=OutboxMessage.Channel.MQTT)
            revision = uuid.uuid4().hex[:8]  # names this revision's outbox rows
            # An earlier revision still waiting is superseded by this one.
            rows.filter(destination__contains="#rev-", status=OutboxMessage.Status.PENDING).update(
                status=OutboxMessage.Status.CANCELLED, last_error="superseded by a later revision"
            )
            base = {d: r for d, r in ((r.destination, r) for r in rows) if "#" not in d}
            wanted = {c.device_id: c for c in commands if c.channel == "mqtt"}
            for device_id in sorted(set(base) | set(wanted)):
                cmd = wanted.get(device_id)
                payload = {
                    "event_id": event.pk,
                    "premise_id": event.premise_id,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "emergency": event.source == DREvent.Source.EMERGENCY,
                    **(cmd.as_payload() if cmd else {"device_id": device_id, "command": "RESTORE"}),
                }
                row = base.get(device_id)
                if row is not None and row.status == OutboxMessage.Status.PENDING:
                    row.payload = {**payload, "message_id": str(row.message_id)}
                    row.save(update_fields=["payload"])
                elif row is not None or cmd is not None:
                    outbox_put(
                        event=event,
                        channel=OutboxMessage.Channel.MQTT,
                        destination=device_id if row is None else f"{device_id}#rev-{revision}",
                        topic=mqtt_protocol.command_topic(device_id),
                        payload=payload,
                        now=now,
                        ack_by=now + timedelta(seconds=settings.DEVICE_ACK_SECONDS),
                    )
            if event.premise.aggregator_id:
                for endpoint in WebhookEndpoint.objects.filter(
                    organisation_id=event.premise.aggregator_id, active=True
                ):
                    outbox_put(
                        event=event,
                        channel=OutboxMessage.Channel.WEBHOOK,
                        destination=f"endpoint-{endpoint.pk}-rev-{revision}",
                        topic=endpoint.url,
                        payload={
                            "type": "event.updated",
                            "event": openadr_event_payload(event),
                            "commands": [c.as_payload() for c in commands],
                        },
                        now=now,
                        ack_by=None,
                    )
            outbox_flush_on_commit()
        notify_event(event=event, operation="UPDATE", now=now)
        owner_notify.event_changed(event, before=before, now=now)  # the owner's inbox and email (ADR 0030)
    return event


def oadr_event_delete(*, event_id: int, user=None, now: datetime | None = None) -> dict:
    """``DELETE /events/{id}``: the event is cancelled (devices told to restore; the platform keeps the row for
    audit, the VTN no longer lists it). Subscribers to EVENT DELETE are notified by the cancellation."""
    event = event_cancel(event_id=event_id, user=user, reason="deleted over OpenADR 3", now=now)
    return openadr_object("EVENT", event)


# --- Reports --------------------------------------------------------------------------------------------------


def oadr_report_save(
    *,
    ven: Ven,
    program: Program,
    event: DREvent | OadrEvent,
    client_name: str,
    report_name=None,
    payload_descriptors=None,
    resources: list,
    report: OadrReport | None = None,
    now=None,
) -> OadrReport:
    """A VEN's report for an event (create, or update its own, also once the event is over or cancelled: late
    and corrected data are reports too). Its USAGE/DEMAND/BASELINE intervals per resource feed verification
    where meter data is missing (``activation.openadr_reports``); a report on an event the VTN only keeps
    (``OadrEvent``) is stored for the business logic."""
    if event.program_id != program.pk:
        raise ApplicationError("The event is not in that program.", fields={"eventID": ["Not in programID."]})
    if isinstance(event, DREvent):
        default_period = window_period(event.start, event.end)
    else:
        default_period = (event.spec or {}).get("intervalPeriod")
    try:
        report_readings(resources=resources, payload_descriptors=payload_descriptors, default_period=default_period)
    except ValueError as exc:
        raise ApplicationError(f"Unreadable report: {exc}", fields={"resources": [str(exc)]}) from None
    with transaction.atomic():
        created = report is None
        report = report or OadrReport(ven=ven)
        report.program, report.client_name = program, client_name
        report.event, report.oadr_event = (event, None) if isinstance(event, DREvent) else (None, event)
        report.report_name, report.payload_descriptors, report.resources = report_name, payload_descriptors, resources
        report.save()
        notify(
            object_type="REPORT",
            operation="CREATE" if created else "UPDATE",
            obj=openadr_object("REPORT", report),
            program_id=program.pk,
            owner_ven_id=ven.pk,
            now=now,
        )
    return report


def oadr_report_delete(*, report: OadrReport, now=None) -> dict:
    with transaction.atomic():
        out = openadr_object("REPORT", report)
        notify(
            object_type="REPORT",
            operation="DELETE",
            obj=out,
            program_id=report.program_id,
            owner_ven_id=report.ven_id,
            now=now,
        )
        report.delete()
    return out


# --- Subscriptions --------------------------------------------------------------------------------------------


def subscription_save(
    *,
    subscription: OadrSubscription,
    program: Program | None,
    client_name: str,
    object_operations: list,
    targets,
    now=None,
) -> OadrSubscription:
    """Create or update a subscription; without a program (OpenADR 3.1.0) it hears of every program. An http(s)
    callback must reach a public address (SSRF; checked again at every send); other callbacks (e.g. a 3.1.0 client
    that reads MQTT notifiers) are stored and never called."""
    for op in object_operations:
        url = str(op.get("callbackUrl", ""))
        if url.split(":", 1)[0].lower() in ("http", "https"):
            egress.url_check(url, field="objectOperations.callbackUrl")
    with transaction.atomic():
        created = subscription.pk is None
        subscription.program, subscription.client_name = program, client_name
        subscription.object_operations, subscription.targets = object_operations, targets
        subscription.save()
        notify(
            object_type="SUBSCRIPTION",
            operation="CREATE" if created else "UPDATE",
            obj=openadr_object("SUBSCRIPTION", subscription),
            program_id=program.pk if program else None,
            owner_ven_id=subscription.ven_id,
            now=now,
        )
    return subscription


def subscription_delete(*, subscription: OadrSubscription, now=None) -> dict:
    with transaction.atomic():
        out = openadr_object("SUBSCRIPTION", subscription)
        pk = subscription.pk
        subscription.delete()
        # Subscribers other than the deleted subscription itself are told.
        notify(
            object_type="SUBSCRIPTION",
            operation="DELETE",
            obj=out,
            program_id=subscription.program_id,
            owner_ven_id=subscription.ven_id,
            now=now,
            exclude_subscription=pk,
        )
    return out
