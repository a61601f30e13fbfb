"""OpenADR 3.0.1 JSON objects for the platform's models: program, event, report, subscription, ven, resource.

Shapes from the OpenADR 3.0.1 OpenAPI definition (OpenADR Alliance, ``docs/openadr3/openadr3-3.0.1.yaml``,
``components/schemas``). Plain functions model -> dict, used by the VTN views and by the notifications.
"""

from __future__ import annotations

from datetime import datetime

from .models import DREvent, OadrEvent, OadrReport, OadrSubscription, Program, Ven, VenResource
from .openadr_spec import spec_object

VTN_EVENT_PREFIX = "vtn-"  # ids of events the VTN keeps without dispatching (``OadrEvent``)


def _iso_duration(seconds: int) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s or not (h or m) else "")
    return out


def _dt(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _base(obj, object_type: str) -> dict:
    """The fields every OpenADR 3 object carries: id, creation and modification times, object type."""
    return {
        "id": str(obj.pk),
        "createdDateTime": _dt(obj.created_at),
        "modificationDateTime": _dt(obj.modified_at),
        "objectType": object_type,
    }


def program_object(p: Program) -> dict:
    """A program created over OpenADR comes back as it was given; the platform's own programs are described from
    their columns."""
    if p.oadr_spec is not None:
        return spec_object(p.oadr_spec, **_base(p, "PROGRAM"))
    return {
        **_base(p, "PROGRAM"),
        "programName": p.code,
        "programLongName": p.name,
        "programType": p.kind.upper(),
        "retailerName": None,
        "retailerLongName": None,
        "country": None,
        "principalSubdivision": None,
        "bindingEvents": True,
        "localPrice": False,
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DISPATCH_SETPOINT_RELATIVE",
                "units": "KW",
                "currency": None,
            },
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "SIMPLE", "units": None, "currency": None},
        ],
        "programDescriptions": None,
        "targets": None,
    }


def event_object(e: DREvent) -> dict:
    """An event created over OpenADR comes back as it was given (every interval and payload); the platform's
    own events are described from their columns. A cancelled event has no intervals."""
    if e.oadr_spec is not None:
        out = spec_object(
            e.oadr_spec,
            id=str(e.pk),
            createdDateTime=_dt(e.created_at),
            modificationDateTime=_event_modified(e),
            objectType="EVENT",
            programID=str(e.program_id),
        )
        if e.status == DREvent.Status.CANCELLED:
            out["intervals"] = []
        return out
    level = 3 if e.source == DREvent.Source.EMERGENCY else 1
    return {
        "id": str(e.pk),
        "createdDateTime": _dt(e.created_at),
        "modificationDateTime": _event_modified(e),
        "objectType": "EVENT",
        "programID": str(e.program_id),
        "eventName": f"flex-event-{e.pk}",
        "priority": 0 if level == 3 else 1,
        "targets": [
            {"type": "RESOURCE_NAME", "values": [f"premise-{e.premise_id}"]},
            {"type": "GROUP", "values": [e.zone.code]},
        ],
        "reportDescriptors": [
            {
                "payloadType": "USAGE",
                "readingType": "DIRECT_READ",
                "units": "KWH",
                "targets": None,
                "aggregate": False,
                "startInterval": -1,
                "numIntervals": -1,
                "historical": True,
                "frequency": -1,
                "repeat": 1,
            }
        ],
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DISPATCH_SETPOINT_RELATIVE",
                "units": "KW",
                "currency": None,
            },
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "SIMPLE", "units": None, "currency": None},
        ],
        "intervalPeriod": {"start": _dt(e.start), "duration": _iso_duration((e.end - e.start).total_seconds())},
        "intervals": []
        if e.status == DREvent.Status.CANCELLED
        else [
            {
                "id": 0,
                "payloads": [
                    {"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-float(e.target_kw)]},
                    {"type": "SIMPLE", "values": [level]},
                ],
            }
        ],
    }


def _event_modified(e: DREvent) -> str | None:
    return _dt(
        max(
            t
            for t in (e.created_at, e.notified_at, e.revised_at, e.activated_at, e.completed_at, e.cancelled_at)
            if t is not None
        )
    )


def event_targets_for_filter(e: DREvent) -> list[dict]:
    """What a dispatched event targets, for ``targetType`` filters: its own targets, its premise and zone."""
    own = (e.oadr_spec or {}).get("targets") or []
    return [
        *own,
        {"type": "RESOURCE_NAME", "values": [f"premise-{e.premise_id}"]},
        {"type": "GROUP", "values": [e.zone.code]},
    ]


def oadr_event_object(e: OadrEvent) -> dict:
    """An event the VTN keeps without dispatching, as it was given (no intervals once deleted)."""
    out = spec_object(e.spec, **_base(e, "EVENT"), programID=str(e.program_id))
    out["id"] = f"{VTN_EVENT_PREFIX}{e.pk}"
    if e.deleted_at is not None:
        out["intervals"] = []
    return out


def report_object(r: OadrReport) -> dict:
    return {
        **_base(r, "REPORT"),
        "programID": str(r.program_id),
        "eventID": str(r.event_id) if r.event_id else f"{VTN_EVENT_PREFIX}{r.oadr_event_id}",
        "clientName": r.client_name,
        "reportName": r.report_name,
        "payloadDescriptors": r.payload_descriptors,
        "resources": r.resources,
    }


def subscription_object(s: OadrSubscription) -> dict:
    return {
        **_base(s, "SUBSCRIPTION"),
        "clientName": s.client_name,
        "programID": str(s.program_id),
        "objectOperations": s.object_operations,
        "targets": s.targets,
    }


def resource_object(r: VenResource) -> dict:
    return {
        **_base(r, "RESOURCE"),
        "resourceName": r.resource_name,
        "venID": str(r.ven_id),
        "attributes": r.attributes,
        "targets": r.targets,
    }


def ven_object(v: Ven) -> dict:
    return {
        **_base(v, "VEN"),
        "venName": v.ven_name,
        "attributes": v.attributes,
        "targets": v.targets,
        "resources": [resource_object(r) for r in v.resources.all()],
    }
