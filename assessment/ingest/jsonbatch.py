"""REST JSON batches: ``{"readings": [{"meter_id": ..., "start": ISO 8601 with offset, "kwh": "1.25"}, ...]}``."""

from __future__ import annotations

from decimal import Decimal

from .csvfile import parse_kwh, parse_start
from .types import ParsedReading, ParseResult


def parse_json_batch(items: list[dict]) -> ParseResult:
    result = ParseResult()
    for i, item in enumerate(items):
        ref = f"readings[{i}]"
        if not isinstance(item, dict):
            result.error(ref, "not an object")
            continue
        meter_id = str(item.get("meter_id") or "").strip()
        if not meter_id:
            result.error(ref, "meter_id is missing")
            continue
        kwh = item.get("kwh")
        if isinstance(kwh, float):
            kwh = repr(kwh)  # the shortest decimal that round-trips, never the binary expansion
        try:
            start = parse_start(str(item.get("start") or ""))
            value = parse_kwh(str(kwh)) if kwh is not None else None
        except ValueError as exc:
            result.error(ref, str(exc))
            continue
        if value is None:
            result.error(ref, "kwh is missing")
            continue
        result.rows.append(ParsedReading(meter_id=meter_id, start=start, kwh=Decimal(value), ref=ref))
    if not items:
        result.error("readings", "empty batch")
    return result
