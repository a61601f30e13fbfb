"""Green Button "Download My Data" files: the NAESB REQ.21 Energy Services Provider Interface (ESPI) Atom feed,
read as a stream.

The feed's entries each hold one resource in ``<content>``: ``UsagePoint``, ``MeterReading``, ``ReadingType``,
``IntervalBlock``, ``LocalTimeParameters`` (and, in retail-customer files, a ``CustomerAccount`` with its
``accountId``). Newer feeds tie them together with Atom links (a MeterReading's ``related`` link names its
ReadingType; an IntervalBlock's ``up``/``self`` link lies under its MeterReading); older feeds have no such links
and rely on document order (UsagePoint, MeterReading, ReadingType, then its IntervalBlocks).

Rules applied (ESPI / NAESB REQ.21 schema ``espiDerived.xsd``, as published with the Green Button samples):
- ``IntervalReading/timePeriod/start`` is seconds since 1970-01-01 UTC; ``duration`` is seconds.
- ``value`` is an integer in ReadingType ``uom`` scaled by ``10 ** powerOfTenMultiplier``; ``uom`` 72 is Wh
  (kWh is 72 with multiplier 3).
- ``accumulationBehaviour`` 4 (deltaData) is energy over each interval; so is 0 ("none", the schema's default,
  which most utilities send) and a missing element. Register readings (1 bulkQuantity, 2 continuousCumulative,
  3 cumulative, 9 summation) and the other kinds are not interval energy and are refused.
- ReadingType ``flowDirection`` 1 (forward, delivered to the customer) or 0/absent is the import channel;
  19 (reverse, received from the customer) is the export channel; 4 (net) cannot be split and is refused.
- ``UsagePoint/ServiceCategory/kind`` 0 is electricity; gas and water usage points are skipped.
- ``ReadingQuality/quality`` (QualityOfReading): readings flagged 12 (projected / forecast) are not
  measurements and are skipped; the other flags are counted by name on the import batch.
- ``LocalTimeParameters/tzOffset`` is the local standard offset in seconds (checked against the meter's zone).

Parsing streams with ``defusedxml``'s ``iterparse`` (no DTD entities, no external entities): each
IntervalReading is appended to typed arrays and its element dropped at once, so memory stays proportional to
the number of readings (about 50 bytes each), not to the document.
"""

from __future__ import annotations

import io
import re
from array import array
from typing import BinaryIO

import numpy as np
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .series import EXPORT, IMPORT, MeterFile, check_readings

ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"
UOM_WH = 72
UOM_NAMES = {"wh": (UOM_WH, 0), "kwh": (UOM_WH, 3)}  # a few files spell the unit out
FLOW_IMPORT = (None, 0, 1)
FLOW_EXPORT, FLOW_NET = 19, 4
ACCUMULATION_INTERVAL = (None, 0, 4)  # absent, "none" (the schema default), deltaData
ACCUMULATION_NAMES = {1: "bulkQuantity", 2: "continuousCumulative", 3: "cumulative", 6: "indicating",
                      9: "summation", 10: "timeDelay", 12: "instantaneous", 13: "latchingQuantity",
                      14: "boundedQuantity"}  # fmt: skip
QUALITY_NAMES = {0: "valid", 7: "manually edited", 8: "estimated using reference day",
                 9: "estimated using linear interpolation", 10: "questionable", 11: "derived",
                 12: "projected (forecast)", 13: "mixed", 14: "raw", 15: "normalized for weather", 16: "other",
                 17: "validated", 18: "verified", 19: "revenue-quality"}  # fmt: skip
QUALITY_PROJECTED = 12
SERVICE_ELECTRICITY = 0
BLOCK_SHIFT = 24  # a reading's position: block number << 24 | reading number in the block
_NO_QUALITY = -1
ENTRY = f"{ATOM}entry"
INTERVAL_BLOCK = f"{ESPI}IntervalBlock"
INTERVAL_READING = f"{ESPI}IntervalReading"
_HANDLED = frozenset({ENTRY, INTERVAL_BLOCK, f"{ESPI}ReadingType", f"{ESPI}MeterReading", f"{ESPI}UsagePoint",
                      f"{ESPI}LocalTimeParameters", f"{ESPI}accountId", "{http://naesb.org/espi/customer}accountId"})  # fmt: skip


def _int(el, name: str) -> int | None:
    child = el.find(f"{ESPI}{name}")
    if child is None or child.text is None or not child.text.strip():
        return None
    return int(child.text.strip())


class _Raw:
    """Readings as read, before their ReadingType is known (it may come later in the file)."""

    def __init__(self) -> None:
        self.start, self.duration, self.value = array("q"), array("q"), array("q")
        self.quality, self.entry, self.position = array("q"), array("q"), array("q")


def parse_espi_stream(stream: BinaryIO | bytes, *, interval_seconds: int | None = None) -> MeterFile:
    """Parse a Green Button ESPI file for one meter into its import and export channels.

    ``interval_seconds``: the meter's interval; when given, every reading's start and duration are checked
    against it. Problems are collected (never raised) and name the IntervalBlock and IntervalReading."""
    if isinstance(stream, bytes | bytearray):
        stream = io.BytesIO(stream)
    blocks: dict[int, int] = {}  # block number -> entry number
    file = MeterFile(ref_of=lambda pos: _ref(pos, blocks))
    raw = _Raw()
    links_of: dict[int, dict[str, list[str]]] = {}  # entry number -> {rel: [href]}
    reading_types: dict[int, dict] = {}  # entry number -> fields
    usage_points: dict[int, int | None] = {}  # entry number -> service kind
    meter_readings: list[int] = []
    # Only "end" events (half the events of start+end): while inside the n-th entry, n - 1 entries have ended;
    # inside the b-th IntervalBlock, b - 1 blocks have.
    entries_ended, blocks_ended, reading_no = 0, 0, 0
    try:
        for _, el in ElementTree.iterparse(stream, events=("end",), forbid_dtd=False):
            tag = el.tag
            if tag == INTERVAL_READING:
                reading_no += 1
                if reading_no == 1:
                    blocks[blocks_ended + 1] = entries_ended + 1
                _read_interval(el, raw, file, entries_ended + 1, ((blocks_ended + 1) << BLOCK_SHIFT) | reading_no)
                el.clear()
                continue
            if tag not in _HANDLED:
                continue
            entry_no = entries_ended + 1
            if tag == INTERVAL_BLOCK:
                blocks_ended += 1
                blocks[blocks_ended] = entry_no
                reading_no = 0
                el.clear()
            elif tag == ENTRY:
                links: dict[str, list[str]] = {}
                for link in el.iterfind(f"{ATOM}link"):
                    links.setdefault(link.get("rel", ""), []).append((link.get("href") or "").rstrip("/"))
                links_of[entry_no] = links
                entries_ended += 1
                el.clear()
            elif tag == f"{ESPI}ReadingType":
                reading_types[entry_no] = _reading_type(el, file, entry_no)
            elif tag == f"{ESPI}MeterReading":
                meter_readings.append(entry_no)
            elif tag == f"{ESPI}UsagePoint":
                service = el.find(f"{ESPI}ServiceCategory")
                try:
                    usage_points[entry_no] = None if service is None else _int(service, "kind")
                except ValueError:
                    usage_points[entry_no] = None
            elif tag == f"{ESPI}LocalTimeParameters":
                try:
                    file.tz_offset_seconds = _int(el, "tzOffset")
                except ValueError:
                    file.problems.add(f"entry {entry_no} LocalTimeParameters", "tzOffset is not an integer")
            elif el.text and el.text.strip():  # accountId
                file.account_number = el.text.strip()
    except ElementTree.ParseError as exc:
        file.problems.add("document", f"not well-formed XML: {exc}", "not well-formed XML")
        return file
    except DefusedXmlException as exc:
        file.problems.add("document", f"unsafe XML refused ({type(exc).__name__})", "unsafe XML refused")
        return file
    if not blocks_ended:
        file.problems.add("document", "no IntervalBlock found")
        return file
    _assign(raw, file, links_of, reading_types, usage_points, meter_readings, interval_seconds)
    if not file.readings and not file.problems and not file.skipped:
        file.problems.add("document", "no IntervalReading found")
    return file


def _ref(pos: int, blocks: dict[int, int]) -> str:
    b, r = pos >> BLOCK_SHIFT, pos & ((1 << BLOCK_SHIFT) - 1)
    return f"IntervalBlock {b} (entry {blocks.get(b, 0)}) IntervalReading {r}"


_TIME_PERIOD, _VALUE, _START, _DURATION = (f"{ESPI}{n}" for n in ("timePeriod", "value", "start", "duration"))
_QUALITY = f"{ESPI}ReadingQuality"
_QUALITY_PATH = f"{ESPI}ReadingQuality/{ESPI}quality"


def _read_interval(el, raw: _Raw, file: MeterFile, entry_no: int, position: int) -> None:
    period = el.find(_TIME_PERIOD)
    value = el.find(_VALUE)
    if period is None or value is None or value.text is None:
        file.problems.add(file.ref_of(position), "needs timePeriod and value")
        return
    start, duration = period.find(_START), period.find(_DURATION)
    if start is None or duration is None:
        file.problems.add(file.ref_of(position), "timePeriod needs a start and a positive duration")
        return
    try:
        start, duration, amount = int(start.text), int(duration.text), int(value.text)
        quality = _NO_QUALITY
        if el.find(_QUALITY) is not None:
            for q in el.iterfind(_QUALITY_PATH):
                code = int(q.text or "")
                quality = code if quality in (_NO_QUALITY, 0) else quality
    except (ValueError, TypeError):
        file.problems.add(file.ref_of(position), "timePeriod start/duration, value and quality must be integers")
        return
    if duration <= 0:
        file.problems.add(file.ref_of(position), "timePeriod needs a start and a positive duration")
        return
    raw.start.append(start)
    raw.duration.append(duration)
    raw.value.append(amount)
    raw.quality.append(quality)
    raw.entry.append(entry_no)
    raw.position.append(position)


def _reading_type(el, file: MeterFile, entry_no: int) -> dict:
    ref = f"ReadingType (entry {entry_no})"
    out: dict = {"ref": ref, "ok": True}
    try:
        for name in ("uom", "powerOfTenMultiplier", "flowDirection", "accumulationBehaviour", "intervalLength"):
            out[name] = _int(el, name)
    except ValueError:
        uom = el.find(f"{ESPI}uom")
        spelled = UOM_NAMES.get(((uom.text if uom is not None else "") or "").strip().lower())
        if spelled is None:
            file.problems.add(ref, "a field is not an integer")
            out["ok"] = False
            return out
        out["uom"], out["powerOfTenMultiplier"] = spelled[0], spelled[1] + (_int(el, "powerOfTenMultiplier") or 0)
        for name in ("flowDirection", "accumulationBehaviour", "intervalLength"):
            out[name] = _int(el, name)
    out["powerOfTenMultiplier"] = out["powerOfTenMultiplier"] or 0
    return out


def _reading_type_of_entry(entry_no, links_of, reading_types, meter_readings, types_by_href):
    """The ReadingType entry of an IntervalBlock's entry: by links, else the only one, else document order."""
    links = links_of.get(entry_no, {})
    hrefs = links.get("up", []) + links.get("self", [])
    for mr in meter_readings:
        mr_self = (links_of.get(mr, {}).get("self") or [""])[0]
        if mr_self and any(h == mr_self or h.startswith(mr_self + "/") for h in hrefs):
            for href in links_of.get(mr, {}).get("related", []):
                if href in types_by_href:
                    return types_by_href[href]
    if len(reading_types) == 1:
        return next(iter(reading_types))
    before = [n for n in reading_types if n < entry_no]
    return max(before) if before else None


def _service_kind(block_entry, links_of, usage_points) -> int | None:
    """The service kind of the UsagePoint an IntervalBlock belongs to: the one whose ``self`` href its own
    ``self``/``up`` href lies under (linked feeds), else the last UsagePoint before it in the document (older
    feeds list a UsagePoint before its MeterReadings, ReadingTypes and IntervalBlocks), else the first one."""
    if not usage_points:
        return SERVICE_ELECTRICITY
    links = links_of.get(block_entry, {})
    hrefs = links.get("self", []) + links.get("up", [])
    for n, kind in usage_points.items():
        up_self = (links_of.get(n, {}).get("self") or [""])[0]
        if up_self and any(h.startswith(up_self + "/") for h in hrefs):
            return kind
    before = [n for n in usage_points if n < block_entry]
    return usage_points[max(before)] if before else usage_points[min(usage_points)]


def _assign(raw, file, links_of, reading_types, usage_points, meter_readings, interval_seconds) -> None:
    """Resolve each reading's ReadingType, then convert, check and append it to its channel."""
    if not len(raw.start):
        return
    types_by_href = {}
    for n in reading_types:
        for href in links_of.get(n, {}).get("self", []):
            types_by_href[href] = n
    entry = np.frombuffer(raw.entry, dtype=np.int64)
    start = np.frombuffer(raw.start, dtype=np.int64)
    duration = np.frombuffer(raw.duration, dtype=np.int64)
    value = np.frombuffer(raw.value, dtype=np.int64)
    quality = np.frombuffer(raw.quality, dtype=np.int64)
    position = np.frombuffer(raw.position, dtype=np.int64)
    durations: dict[str, list[np.ndarray]] = {IMPORT: [], EXPORT: []}
    verdicts: dict[int, tuple[str, str] | None] = {}  # ReadingType entry -> why its readings are refused
    for codes, count in zip(*np.unique(quality[quality > 0], return_counts=True), strict=True):
        name = QUALITY_NAMES.get(int(codes), f"quality {int(codes)}")
        file.qualities[name] = file.qualities.get(name, 0) + int(count)
    # Readings were appended in document order, so each entry's readings are one contiguous run.
    entries_read, firsts, counts = np.unique(entry, return_index=True, return_counts=True)
    for block_entry, lo, n in zip(entries_read.tolist(), firsts.tolist(), counts.tolist(), strict=True):
        mask = slice(lo, lo + n)
        rt_entry = _reading_type_of_entry(block_entry, links_of, reading_types, meter_readings, types_by_href)
        if rt_entry is None:
            file.problem_at(position[mask], "cannot tell its ReadingType (no MeterReading/ReadingType link)")
            continue
        rt = reading_types[rt_entry]
        if not rt["ok"]:
            continue
        kind = _service_kind(block_entry, links_of, usage_points)
        if kind not in (None, SERVICE_ELECTRICITY):
            file.skipped += n  # gas or water: not this electricity meter's
            continue
        if rt_entry not in verdicts:
            verdicts[rt_entry] = _refusal(rt)
            if verdicts[rt_entry] is not None:
                file.problems.add(rt["ref"], *verdicts[rt_entry])
        if verdicts[rt_entry] is not None:
            continue
        flow = rt["flowDirection"]
        keep = quality[mask] != QUALITY_PROJECTED
        file.skipped += n - int(keep.sum())
        tenth = _to_tenth_wh(value[mask][keep], rt["powerOfTenMultiplier"], position[mask][keep], file)
        if tenth is None:
            continue
        channel = EXPORT if flow == FLOW_EXPORT else IMPORT
        series = file.channels[channel]
        series.starts.frombytes(start[mask][keep].tobytes())
        series.tenth_wh.frombytes(tenth.astype(np.int64).tobytes())
        series.positions.frombytes(position[mask][keep].tobytes())
        durations[channel].append(duration[mask][keep])
    if interval_seconds:
        check_readings(
            file,
            interval_seconds=interval_seconds,
            durations={c: np.concatenate(d) if d else np.zeros(0, np.int64) for c, d in durations.items()},
        )


def _refusal(rt: dict) -> tuple[str, str] | None:
    """Why a ReadingType's readings cannot be stored as interval energy (message, problem), or None."""
    if rt["uom"] != UOM_WH:
        return f"uom {rt['uom']} is not 72 (Wh)", "uom is not 72 (Wh)"
    acc = rt["accumulationBehaviour"]
    if acc not in ACCUMULATION_INTERVAL:
        name = ACCUMULATION_NAMES.get(acc, str(acc))
        return (
            f"accumulationBehaviour {acc} ({name}): not energy per interval; send interval data (deltaData, 4, or 0)",
            "accumulationBehaviour is not interval data",
        )
    flow = rt["flowDirection"]
    if flow == FLOW_NET:
        return (
            "flowDirection 4 (net) cannot be split into delivered and received; send the two channels",
            "net readings",
        )
    if flow not in FLOW_IMPORT and flow != FLOW_EXPORT:
        return f"flowDirection {flow} is neither forward (1) nor reverse (19)", "unknown flowDirection"
    return None


def _to_tenth_wh(values: np.ndarray, power: int, positions: np.ndarray, file: MeterFile) -> np.ndarray | None:
    """Values × 10**power Wh in tenths of a Wh, exactly; None (with a problem) if they carry more precision."""
    shift = power + 1
    if shift >= 0:
        too_big = np.abs(values) >= 10 ** max(12 - shift, 0)
        if too_big.any():
            file.problem_at(positions[too_big], "energy out of range (1e8 kWh or more)")
            return None
        return values * (10 ** min(shift, 12))  # beyond 12 every value is 0 here
    divisor = 10 ** (-shift)
    inexact = positions[values % divisor != 0]
    if len(inexact):
        file.problem_at(inexact, f"more precise than 0.1 Wh (powerOfTenMultiplier {power})")
        return None
    return values // divisor


_SNIFF = re.compile(rb"^\s*(<|\xef\xbb\xbf\s*<)")


def looks_like_xml(head: bytes) -> bool:
    """Whether a file's first bytes open an XML document (else it is taken for a CSV file)."""
    return bool(_SNIFF.match(head))
