"""Green Button CSV as utilities export it ("Download My Data", the spreadsheet variant), read as a stream.

The file opens with a few header lines about the customer (``Name,...``, ``Address,...``, ``Account Number,...``,
``Service,...``), then a column header and one line per interval::

    TYPE,DATE,START TIME,END TIME,USAGE,UNITS,COST,NOTES
    Electric usage,2026-11-01,01:00,01:14,0.31,kWh,$0.05,

Net-metered accounts replace ``USAGE`` by two columns, ``IMPORT (kWh)`` and ``EXPORT (kWh)``. Rules:
- DATE (``YYYY-MM-DD`` or ``M/D/YYYY``) and START TIME are the meter's *local* wall clock. On the fall-back day the
  repeated hour appears twice, in order: its first occurrence is daylight time, its second standard time (PEP 495
  ``fold``). A time that does not exist (the spring-forward hour) is an error.
- END TIME is the interval's last minute (``01:14``) or its end (``01:15``); the duration must be the meter's.
- UNITS ``kWh`` or ``Wh`` (a unit in the column header, e.g. ``USAGE (kWh)``, serves when there is no UNITS column).
- Gas and water lines (TYPE naming them) are skipped; only electricity is read.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from .series import EXPORT, IMPORT, MeterFile, check_readings

UNIT_SCALE = {"kwh": 4, "wh": 1}  # decimal places to shift into 0.1 Wh
_UNIT_IN_HEADER = re.compile(r"\((k?wh)\)", re.IGNORECASE)
NON_ELECTRIC = ("gas", "water", "therm")


def parse_green_button_csv(stream: BinaryIO | bytes, *, interval_seconds: int, tz: str) -> MeterFile:
    """Parse a utility Green Button CSV for one meter whose local zone is ``tz``."""
    if isinstance(stream, bytes | bytearray):
        stream = io.BytesIO(stream)
    file = MeterFile(ref_of=lambda pos: f"line {pos}")
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    zone = ZoneInfo(tz)
    columns: dict[str, int] | None = None
    seen_ambiguous: set[datetime] = set()
    durations: dict[str, list[int]] = {IMPORT: [], EXPORT: []}
    try:
        for lineno, fields in enumerate(csv.reader(text), start=1):
            if not fields or all(not f.strip() for f in fields):
                continue
            if columns is None:
                key = fields[0].strip().lower()
                if key == "type" and len(fields) > 3:
                    columns = _columns(fields, file, lineno)
                    if columns is None:
                        return file
                elif key in ("account number", "account", "account no", "account id") and len(fields) > 1:
                    file.account_number = fields[1].strip()
                continue
            _line(fields, lineno, columns, zone, seen_ambiguous, durations, file)
    except UnicodeDecodeError:
        file.problems.add("file", "not UTF-8 text")
        return file
    finally:
        text.detach()
    if columns is None:
        file.problems.add("file", "no TYPE,DATE,START TIME,END TIME,... header line found")
        return file
    check_readings(
        file,
        interval_seconds=interval_seconds,
        durations={c: np.array(d, dtype=np.int64) for c, d in durations.items()},
    )
    if not file.readings and not file.problems and not file.skipped:
        file.problems.add("file", "no readings")
    return file


def _columns(header: list[str], file: MeterFile, lineno: int) -> dict[str, int] | None:
    names = [h.strip().lower() for h in header]
    out: dict[str, int] = {}
    for i, name in enumerate(names):
        base = _UNIT_IN_HEADER.sub("", name).strip()
        unit = _UNIT_IN_HEADER.search(name)
        if base in ("type", "date", "start time", "end time", "units"):
            out[base] = i
        elif base in ("usage", "import", "export"):
            out[base] = i
            if unit:
                out[f"{base}_unit"] = UNIT_SCALE[unit.group(1).lower()]
    missing = [c for c in ("date", "start time", "end time") if c not in out]
    if "usage" not in out and "import" not in out:
        missing.append("usage (or import)")
    if missing:
        file.problems.add(f"line {lineno}", f"header lacks column(s) {', '.join(missing)}")
        return None
    return out


def _line(fields, lineno, columns, zone, seen_ambiguous, durations, file: MeterFile) -> None:
    ref = f"line {lineno}"
    if len(fields) <= max(columns[c] for c in ("date", "start time", "end time")):
        file.problems.add(ref, "too few fields")
        return
    kind = fields[columns["type"]].strip().lower() if "type" in columns else ""
    if any(word in kind for word in NON_ELECTRIC):
        file.skipped += 1
        return
    try:
        day = _date(fields[columns["date"]])
        start_min = _minutes(fields[columns["start time"]])
        end_min = _minutes(fields[columns["end time"]])
    except (ValueError, IndexError):
        file.problems.add(ref, "DATE, START TIME or END TIME unreadable", "DATE, START TIME or END TIME unreadable")
        return
    length = (end_min - start_min) % 1440
    if (length + 1) % 5 == 0:
        length += 1  # END TIME names the interval's last minute
    local = datetime(day.year, day.month, day.day, start_min // 60, start_min % 60)  # noqa: DTZ001 - wall clock
    start = _to_utc(local, zone, seen_ambiguous)
    if start is None:
        file.problems.add(
            ref, f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks go forward)", "local time does not exist"
        )
        return
    unit_scale = None
    if "units" in columns and len(fields) > columns["units"] and fields[columns["units"]].strip():
        unit_scale = UNIT_SCALE.get(fields[columns["units"]].strip().lower())
        if unit_scale is None:
            file.problems.add(
                ref, f"unit {fields[columns['units']].strip()!r} is not kWh or Wh", "unit is not kWh or Wh"
            )
            return
    for column, channel in (("usage", IMPORT), ("import", IMPORT), ("export", EXPORT)):
        if column not in columns:
            continue
        cell = fields[columns[column]].strip() if len(fields) > columns[column] else ""
        if not cell:
            continue
        scale = unit_scale if unit_scale is not None else columns.get(f"{column}_unit")
        if scale is None:
            file.problems.add(ref, "no unit (UNITS column or a unit in the header)", "no unit")
            return
        try:
            value = Decimal(cell.replace(",", ""))
        except InvalidOperation:
            file.problems.add(ref, f"{column} {cell!r} is not a number", f"{column} is not a number")
            continue
        tenth = value.scaleb(scale)
        if not tenth.is_finite() or tenth != tenth.to_integral_value():
            file.problems.add(ref, f"{cell} is more precise than 0.1 Wh", "more precise than 0.1 Wh")
            continue
        file.channels[channel].append(int(start.timestamp()), int(tenth), lineno)
        durations[channel].append(length * 60)


def _date(text: str) -> date:
    text = text.strip()
    if "/" in text:
        m, d, y = (int(x) for x in text.split("/"))
        return date(y, m, d)
    return date.fromisoformat(text)


def _minutes(text: str) -> int:
    hours, minutes = text.strip().split(":")[:2]
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value < 1440:
        raise ValueError(text)
    return value


def _to_utc(local: datetime, zone: ZoneInfo, seen_ambiguous: set[datetime]) -> datetime | None:
    """The UTC instant of a local wall-clock time; the second occurrence of a repeated time is the later one."""
    early = local.replace(tzinfo=zone, fold=0)
    late = local.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():  # ambiguous (fall back) or non-existent (spring forward)
        round_trip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != local:
            return None
        if local in seen_ambiguous:
            return late.astimezone(UTC)
        seen_ambiguous.add(local)
    return early.astimezone(UTC)
