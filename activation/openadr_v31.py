"""OpenADR 3.1.0 serialisation: the VTN's objects in their 3.1.0 shape, and 3.1.0 request bodies in the shape the
VTN's (version-neutral) services and the 3.0.1 views take.

One implementation serves both versions (ADR 0022): the 3.0.1 objects of ``activation.openadr_objects`` are the
VTN's canonical form, and this module maps them to and from OpenADR 3.1.0 (OpenADR Alliance OpenAPI definition
3.1.0, ``shared/data/openadr3/3.1.0/openadr3.yaml``, ``components/schemas``). The differences it handles:

* **targets** are plain strings in 3.1.0 (``target``: 1-128 characters), ``valuesMap`` objects in 3.0.1. A 3.1.0
  target ``premise-<id>`` is the platform's resource name of a premise (3.0.1 ``RESOURCE_NAME``); any other
  string is a group (3.0.1 ``GROUP``). 3.0.1 targets read in 3.1.0 are their values, flattened.
* **clientID** (the OAuth 2 client of the VEN) is part of ``report``, ``subscription``, ``ven`` and ``resource``.
* ``program`` has no programLongName, retailer or country fields; ``report`` and ``subscription`` need no
  ``programID`` (a report's program is its event's); ``subscription.programID`` may be absent (every program).
* ``event.duration`` (the event's length; "may be used to loop intervals") and ``reportDescriptor
  .reportIntervals`` (INTERVALS, SUB_INTERVALS, OPEN_INTERVALS; the platform asks for INTERVALS).
* ``ven``/``resource`` requests carry an ``objectType`` discriminator (``VEN_VEN_REQUEST``, ``BL_VEN_REQUEST``,
  ``VEN_RESOURCE_REQUEST``, ``BL_RESOURCE_REQUEST``); the objects the VTN returns have ``objectType`` VEN and
  RESOURCE, as ``objectMetadata`` says.
* notifications name the operation (``CREATE``, ``UPDATE``, ``DELETE``), not the HTTP verb.

Pure code: dicts in, dicts out.
"""

from __future__ import annotations

import re

PREMISE_TARGET = re.compile(r"^premise-\d+$")
VERB_OPERATION = {"POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}
REPORT_INTERVALS = ("INTERVALS", "SUB_INTERVALS", "OPEN_INTERVALS")
_PROGRAM_301_ONLY = (
    "programLongName",
    "retailerName",
    "retailerLongName",
    "programType",
    "country",
    "principalSubdivision",
    "timeZoneOffset",
    "bindingEvents",
    "localPrice",
)


# --- targets --------------------------------------------------------------------------------------------------


def targets_v31(targets) -> list[str] | None:
    """3.0.1 valuesMap targets (or 3.1.0 strings) as 3.1.0 target strings, in order, without repeats."""
    if targets is None:
        return None
    out: list[str] = []
    for t in targets:
        values = t.get("values") or [] if isinstance(t, dict) else [t]
        for v in values:
            s = str(v)
            if 1 <= len(s) <= 128 and s not in out:
                out.append(s)
    return out


def targets_v301(targets) -> list[dict] | None:
    """3.1.0 target strings as 3.0.1 valuesMaps: ``premise-<id>`` as RESOURCE_NAME, the rest as GROUP."""
    if targets is None:
        return None
    names = [t for t in targets if PREMISE_TARGET.match(t)]
    groups = [t for t in targets if not PREMISE_TARGET.match(t)]
    return [m for m in ({"type": "RESOURCE_NAME", "values": names}, {"type": "GROUP", "values": groups}) if m["values"]]


def targets_match(wanted: list[str], targets) -> bool:
    """The 3.1.0 ``targets`` query: an object matches when it shares one of the wanted target strings."""
    return bool(set(wanted) & set(targets_v31(targets) or []))


# --- objects out ----------------------------------------------------------------------------------------------


def _descriptors_v31(descriptors, object_type: str):
    if descriptors is None:
        return None
    return [{**d, "objectType": d.get("objectType") or object_type} for d in descriptors if isinstance(d, dict)]


def to_v31(object_type: str, obj: dict, *, client_id: str | None = None) -> dict:
    """A VTN object (3.0.1 form) in its 3.1.0 form. ``client_id`` is the clientID of the VEN that owns a report,
    subscription, VEN or resource (the BL's own subscriptions: the caller's name)."""
    out = dict(obj)
    if "targets" in out:
        out["targets"] = targets_v31(out["targets"])
    if object_type == "PROGRAM":
        for key in _PROGRAM_301_ONLY:
            out.pop(key, None)
        out["payloadDescriptors"] = _descriptors_v31(out.get("payloadDescriptors"), "EVENT_PAYLOAD_DESCRIPTOR")
    elif object_type == "EVENT":
        period = out.get("intervalPeriod") or {}
        if period.get("duration") and not out.get("duration"):
            out["duration"] = period["duration"]
        out["reportDescriptors"] = [
            {**d, "targets": targets_v31(d.get("targets")), "reportIntervals": d.get("reportIntervals") or "INTERVALS"}
            for d in out.get("reportDescriptors") or []
        ] or None
    elif object_type == "REPORT":
        out.pop("programID", None)
        out["clientID"] = client_id or out.get("clientName")
        out["payloadDescriptors"] = _descriptors_v31(out.get("payloadDescriptors"), "REPORT_PAYLOAD_DESCRIPTOR")
    elif object_type == "SUBSCRIPTION":
        out["clientID"] = client_id or out.get("clientName")
        if out.get("programID") in (None, "None"):
            out.pop("programID", None)
    elif object_type == "VEN":
        out["clientID"] = client_id or out.get("venName")
        out.pop("resources", None)  # 3.1.0 resources live at /resources
    elif object_type == "RESOURCE":
        out["clientID"] = client_id or out.get("resourceName")
    return {k: v for k, v in out.items() if v is not None or k in ("targets", "attributes")}


def notification_v31(object_type: str, operation: str, obj: dict, *, client_id: str | None = None) -> dict:
    """A 3.1.0 ``notification`` {objectType, operation, object}; ``operation`` as CREATE/UPDATE/DELETE or the
    HTTP verb the 3.0.1 notifications use."""
    return {
        "objectType": object_type,
        "operation": VERB_OPERATION.get(operation, operation),
        "object": to_v31(object_type, obj, client_id=client_id),
    }


# --- requests in ----------------------------------------------------------------------------------------------


def request_v301(object_type: str, body: dict, *, program_id: str | None = None) -> dict:
    """A 3.1.0 request body in the form the VTN's 3.0.1 handling reads. ``program_id`` fills a report's
    programID (its event's program). Unknown fields pass through."""
    out = {k: v for k, v in body.items() if k != "objectType" or object_type in ("PROGRAM", "EVENT")}
    if isinstance(out.get("targets"), list) and all(isinstance(t, str) for t in out["targets"]):
        out["targets"] = targets_v301(out["targets"])
    if object_type == "EVENT":
        period = dict(out.get("intervalPeriod") or {})
        if out.get("duration") and not period.get("duration"):
            period["duration"] = out["duration"]
            out["intervalPeriod"] = period
        for d in out.get("reportDescriptors") or []:
            if isinstance(d, dict) and isinstance(d.get("targets"), list):
                d["targets"] = targets_v301([str(t) for t in d["targets"]])
    elif object_type == "REPORT" and program_id is not None:
        out["programID"] = program_id
    if object_type == "EVENT":
        out.setdefault("intervals", [])  # optional in 3.1.0
    _periods_v301(out)
    return out


NOW = "0001-01-01T00:00:00Z"  # "a start of 0001-01-01 may indicate 'now'" (intervalPeriod, 3.1.0)


def _periods_v301(node, parent_start: str | None = None) -> None:
    """3.1.0 ``intervalPeriod.start`` is optional (an interval's period inherits its parent's start), 3.0.1's
    is required: give each period without a start its parent's, or the spec's "now" marker at the top."""
    if isinstance(node, list):
        for item in node:
            _periods_v301(item, parent_start)
        return
    if not isinstance(node, dict):
        return
    period = node.get("intervalPeriod")
    if isinstance(period, dict):
        if not period.get("start"):
            node["intervalPeriod"] = period = {**period, "start": parent_start or NOW}
        parent_start = period["start"]
    for key in ("intervals", "resources"):
        if isinstance(node.get(key), list):
            _periods_v301(node[key], parent_start)
