"""OpenADR 3 objects checked against the specification's own schemas, per version, and the spec's value types.

The OpenADR Alliance publishes each version of OpenADR 3 as an OpenAPI 3.0 definition (``docs/openadr3/
openadr3-<version>.yaml``; 3.0.1 is ``openadr3-3.0.1.yaml``). Its ``components/schemas`` are the objects a VTN
stores and returns (program, event, report, subscription, ven, resource ...). This module turns them into JSON
Schema (draft 4, as OpenAPI 3.0 schemas are: ``nullable`` becomes ``null`` allowed, ``discriminator`` dropped) and
validates request bodies with them, naming the first offending field, so the VTN can keep the whole spec object
(as JSON beside the columns the platform acts on) and return it as it was given.

Also the spec's value types:

* ``duration``: ISO 8601 durations as the spec's pattern admits them (``-?P[nY][nM][nD|nW][T[nH][nM][nS]]``):
  weeks (``P1W``), zero (``PT0S``, "instantaneous or infinity, depending on payloadType"), fractional seconds;
  years and months are calendar lengths, so they are added to a start (``add_duration``), never turned into a
  fixed number of seconds.
* ``dateTime``: RFC 3339 date-time with an offset (a naive time is refused: which zone would it be in?).
* ``valuesMap`` targets and attributes: ``values_of(maps, type)``.

Pure code (files and dicts, no database); the version is an argument so every VTN version shares it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from dateutil.relativedelta import relativedelta

SPEC_DIR = Path(__file__).resolve().parents[1] / "docs" / "openadr3"
VTN_FIELDS = ("id", "createdDateTime", "modificationDateTime", "objectType")


class SpecError(ValueError):
    """A body that does not conform: ``field`` is its path (``intervals/0/payloads/0/type``, "" for the body)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field or 'body'}: {message}")


def spec_path(version: str) -> Path:
    path = SPEC_DIR / f"openadr3-{version}.yaml"
    if not path.exists():
        raise LookupError(f"No OpenADR 3 specification {version} in {SPEC_DIR}.")
    return path


@cache
def spec(version: str) -> dict:
    """The OpenAPI document of that version, parsed."""
    return yaml.safe_load(spec_path(version).read_text())


def _json_schema(node):
    # OpenAPI 3.0 ``nullable`` -> JSON Schema; ``discriminator`` is not JSON Schema; refs to local definitions.
    if isinstance(node, dict):
        node = {k: _json_schema(v) for k, v in node.items() if k not in ("discriminator", "example")}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_json_schema(v) for v in node]
    if isinstance(node, str) and node.startswith("#/components/schemas/"):
        return "#/definitions/" + node.rsplit("/", 1)[1]
    return node


@cache
def definitions(version: str) -> dict:
    return _json_schema(copy.deepcopy(spec(version)["components"]["schemas"]))


def schema(version: str, name: str, *, many: bool = False) -> dict:
    """The JSON Schema of component ``name`` (or of a list of them)."""
    if name not in definitions(version):
        raise LookupError(f"OpenADR {version} has no schema {name}.")
    ref = {"$ref": f"#/definitions/{name}"}
    return {"definitions": definitions(version), **({"type": "array", "items": ref} if many else ref)}


def parse_datetime(value) -> datetime:
    """An RFC 3339 date-time with its offset (``Z`` or ``+hh:mm``)."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d", value):
        raise ValueError(f"{value!r} is not a date-time")
    try:
        dt = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a date-time") from None
    if dt.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return dt


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value) -> bool:
    return not isinstance(value, str) or bool(parse_datetime(value))


@cache
def _validator(version: str, name: str, many: bool) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(schema(version, name, many=many), format_checker=FORMATS)


def errors(version: str, name: str, instance, *, many: bool = False) -> list[SpecError]:
    """Every way ``instance`` fails the schema, most relevant first."""
    found = sorted(_validator(version, name, many).iter_errors(instance), key=jsonschema.exceptions.relevance)
    return [_spec_error(e) for e in found]


def _spec_error(error: jsonschema.ValidationError) -> SpecError:
    # anyOf (nullable fields, payload values) hides the real reason in its context: take the deepest one.
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    path = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return SpecError(path, message)


def validate(version: str, name: str, instance) -> dict:
    """The body as the spec object the VTN stores: validated against schema ``name``, without the fields the VTN
    provisions (id, createdDateTime, modificationDateTime, objectType). Raises ``SpecError`` naming the field."""
    if not isinstance(instance, dict):
        raise SpecError("", "the body must be a JSON object")
    found = errors(version, name, instance)
    if found:
        raise found[0]
    nul = _nul_path(instance)
    if nul is not None:  # PostgreSQL text and jsonb cannot hold U+0000
        raise SpecError(nul, "NUL characters (U+0000) cannot be stored")
    return {k: v for k, v in instance.items() if k not in VTN_FIELDS}


def _nul_path(node, path: str = "") -> str | None:
    if isinstance(node, str):
        return path if "\x00" in node else None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(key, str) and "\x00" in key:
            return path
        found = _nul_path(value, f"{path}/{key}" if path else str(key))
        if found is not None:
            return found
    return None


def spec_object(stored: dict | None, **vtn: object) -> dict:
    """A stored spec object with the VTN's own fields (id, times, objectType, ids it links) laid over it."""
    return {**vtn, **{k: v for k, v in (stored or {}).items() if k not in vtn}}


# --- durations ------------------------------------------------------------------------------------------------

DURATION = re.compile(
    r"^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration: calendar part (years, months) and exact part (weeks, days, hours... as timedelta)."""

    months: int
    exact: timedelta

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.exact == timedelta(0)

    def timedelta(self) -> timedelta:
        """The exact length; a duration in years or months has none (it depends on the start)."""
        if self.months:
            raise ValueError("a duration in years or months has no fixed length; add it to a start")
        return self.exact


def parse_duration(value) -> Duration:
    """``PT15M``, ``PT1H``, ``P1D``, ``P1W``, ``PT0S``, ``P1Y2M``, ``-PT5M`` (the spec's ``duration`` pattern)."""
    m = DURATION.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not an ISO 8601 duration")
    sign, years, months, days, unit, hours, minutes, seconds = m.groups()
    try:
        exact = timedelta(
            days=int(days or 0) * (7 if unit == "W" else 1),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds or 0),
        )
    except OverflowError:
        raise ValueError(f"{value!r} is longer than this VTN can place in time") from None
    total_months = int(years or 0) * 12 + int(months or 0)
    return Duration(months=-total_months, exact=-exact) if sign else Duration(months=total_months, exact=exact)


def add_duration(start: datetime, value: str) -> datetime:
    """``start`` plus an ISO 8601 duration (years and months by the calendar); ValueError past year 9999."""
    d = parse_duration(value)
    try:
        return start + relativedelta(months=d.months) + d.exact
    except (OverflowError, ValueError):
        raise ValueError(f"{start.isoformat()} + {value} is outside the calendar") from None


def format_duration(delta: timedelta) -> str:
    """A timedelta as ISO 8601 (``PT1H30M``, ``P1DT2H``, zero ``PT0S``)."""
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    time = (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    out = sign + "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return out if out.strip("-") != "P" else "PT0S"


# --- valuesMap ------------------------------------------------------------------------------------------------


def values_of(maps, value_type: str) -> list:
    """The values of every valuesMap of that type (targets, attributes, payloads)."""
    return [v for m in maps or [] if isinstance(m, dict) and m.get("type") == value_type for v in m.get("values") or []]


def maps_match(wanted, have) -> bool:
    """True when no valuesMap is wanted, or one shares a type and a value with ``have`` (the spec's targeting)."""
    if not wanted:
        return True
    return any(
        w.get("type") == h.get("type")
        and {str(v) for v in w.get("values") or []} & {str(v) for v in h.get("values") or []}
        for w in wanted
        for h in have or []
    )
