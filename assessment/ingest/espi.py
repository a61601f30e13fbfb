"""Green Button "Download My Data" files: the NAESB REQ.21 Energy Services Provider Interface (ESPI) Atom feed.

The feed's entries each hold one resource in ``<content>``: ``UsagePoint``, ``MeterReading``,
``ReadingType``, ``IntervalBlock``, ``LocalTimeParameters`` (and, in retail-customer files, a
``CustomerAccount`` with its ``accountId``). Resources are tied together by Atom links: a MeterReading's
``related`` link names its ReadingType, an IntervalBlock's ``up``/``self`` link lies under its MeterReading.

Rules applied (ESPI / NAESB REQ.21, as published with the Green Button sample files):
- ``IntervalReading/timePeriod/start`` is seconds since 1970-01-01 UTC; ``duration`` is seconds.
- ``value`` is an integer in ReadingType ``uom`` scaled by ``10 ** powerOfTenMultiplier``; ``uom`` 72 is Wh.
- ReadingType ``flowDirection`` 1 is forward (delivered to the customer, import); 19 is reverse (export).
  Only the import channel is stored; reverse-flow readings are counted as skipped.
- ``accumulationBehaviour`` 4 (deltaData) is interval energy; 1 (bulkQuantity, a register) is refused.
- ``LocalTimeParameters`` gives the local standard offset (``tzOffset``) and DST shift (``dstOffset``),
  in seconds; they describe the local time of the file (returned in ``meta``; the import service checks the
  standard offset against the premise's timezone).

Parsing uses defusedxml: no entity expansion, no external entities.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .types import ParsedReading, ParseResult

ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"
UOM_WH = 72
FLOW_FORWARD, FLOW_REVERSE = 1, 19
ACCUMULATION_BULK, ACCUMULATION_DELTA = 1, 4


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _int(el, name: str, default: int | None = None) -> int | None:
    child = el.find(f"{ESPI}{name}")
    if child is None or child.text is None:
        return default
    return int(child.text.strip())


def _links(entry) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in entry.findall(f"{ATOM}link"):
        out.setdefault(link.get("rel", ""), []).append((link.get("href") or "").rstrip("/"))
    return out


def _resources(root):
    """(entry number, links, resource element) for each resource in the feed (or a bare resource)."""
    if _local(root.tag) == "feed":
        for n, entry in enumerate(root.findall(f"{ATOM}entry"), start=1):
            content = entry.find(f"{ATOM}content")
            if content is None:
                continue
            links = _links(entry)
            for resource in list(content):
                yield n, links, resource
    elif _local(root.tag) == "entry":
        content = root.find(f"{ATOM}content")
        for resource in list(content if content is not None else []):
            yield 1, _links(root), resource
    else:
        yield 1, {}, root


def parse_espi(data: str | bytes, *, meter_id: str) -> ParseResult:
    """Parse a Green Button ESPI file into readings for ``meter_id``; errors name the element."""
    result = ParseResult()
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        result.error("document", f"not well-formed or unsafe XML: {exc}")
        return result

    reading_types: dict[str, tuple[int, dict]] = {}
    meter_readings: list[tuple[str, list[str]]] = []
    blocks: list[tuple[int, dict, object]] = []
    for n, links, res in _resources(root):
        kind = _local(res.tag)
        self_href = (links.get("self") or [""])[0]
        if kind == "ReadingType":
            try:
                rt = {
                    "uom": _int(res, "uom"),
                    "power": _int(res, "powerOfTenMultiplier", 0),
                    "flow": _int(res, "flowDirection", FLOW_FORWARD),
                    "accumulation": _int(res, "accumulationBehaviour", ACCUMULATION_DELTA),
                    "interval": _int(res, "intervalLength"),
                }
            except ValueError:
                result.error(f"entry {n} ReadingType", "a field is not an integer")
                continue
            reading_types[self_href or f"#rt{n}"] = (n, rt)
        elif kind == "MeterReading":
            meter_readings.append((self_href, links.get("related", [])))
        elif kind == "IntervalBlock":
            blocks.append((n, links, res))
        elif kind == "LocalTimeParameters":
            try:
                result.meta["tz_offset_seconds"] = _int(res, "tzOffset", 0)
                result.meta["dst_offset_seconds"] = _int(res, "dstOffset", 0)
            except ValueError:
                result.error(f"entry {n} LocalTimeParameters", "tzOffset/dstOffset is not an integer")
        elif kind in ("CustomerAccount", "CustomerAgreement"):
            for el in res.iter():
                if _local(el.tag) == "accountId" and el.text and el.text.strip():
                    result.account_number = el.text.strip()
    if not blocks and not result.errors:
        result.error("document", "no IntervalBlock found")

    for b, (n, links, block) in enumerate(blocks, start=1):
        block_ref = f"IntervalBlock {b} (entry {n})"
        rt = _reading_type_for(links, meter_readings, reading_types)
        if rt is None:
            result.error(block_ref, "cannot tell its ReadingType (no MeterReading/ReadingType link)")
            continue
        rt_n, rt = rt
        if rt["uom"] != UOM_WH:
            result.error(f"ReadingType (entry {rt_n})", f"uom {rt['uom']} is not 72 (Wh)")
            continue
        if rt["accumulation"] != ACCUMULATION_DELTA:
            result.error(f"ReadingType (entry {rt_n})", "accumulationBehaviour is not 4 (interval deltaData)")
            continue
        scale = Decimal(1).scaleb(rt["power"]) / Decimal(1000)
        for r, reading in enumerate(block.findall(f"{ESPI}IntervalReading"), start=1):
            ref = f"{block_ref} IntervalReading {r}"
            period = reading.find(f"{ESPI}timePeriod")
            value = reading.find(f"{ESPI}value")
            if period is None or value is None or value.text is None:
                result.error(ref, "needs timePeriod and value")
                continue
            try:
                start_s = _int(period, "start")
                duration = _int(period, "duration")
                raw = Decimal(int(value.text.strip()))
            except (ValueError, InvalidOperation):
                result.error(ref, "timePeriod start/duration and value must be integers")
                continue
            if start_s is None or duration is None or duration <= 0:
                result.error(ref, "timePeriod needs a start and a positive duration")
                continue
            if rt["flow"] == FLOW_REVERSE:
                result.skipped += 1
                continue
            start = datetime.fromtimestamp(start_s, tz=UTC)
            result.rows.append(
                ParsedReading(meter_id=meter_id, start=start, kwh=raw * scale, ref=ref, duration_seconds=duration)
            )
    if not result.rows and not result.errors and not result.skipped:
        result.error("document", "no IntervalReading found")
    return result


def _reading_type_for(links, meter_readings, reading_types):
    hrefs = links.get("up", []) + links.get("self", [])
    for mr_self, related in meter_readings:
        if mr_self and any(h.startswith(mr_self + "/") or h == mr_self for h in hrefs):
            for href in related:
                if href in reading_types:
                    return reading_types[href]
    if len(reading_types) == 1:
        return next(iter(reading_types.values()))
    return None
