"""CSV meter files: a header line, then one reading per line.

Columns (by header name, any order, extra columns ignored): ``meter_id``, ``start`` (ISO 8601 with a UTC
offset or ``Z`` — local wall-clock times are ambiguous on the 25-hour day, so an offset is required),
``kwh`` (energy over the interval, a decimal number). An optional ``account_number`` column carries the
utility account; every line must then carry the same one.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from .types import ParsedReading, ParseResult

REQUIRED = ("meter_id", "start", "kwh")


def parse_start(text: str) -> datetime:
    """An ISO 8601 timestamp with an offset, as aware UTC; ValueError otherwise."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("time has no UTC offset (write e.g. 2026-03-08T01:45:00-05:00 or ...Z)")
    return value.astimezone(UTC)


def parse_kwh(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"kwh {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"kwh {text!r} is not a finite number")
    return value


def parse_csv(data: str | bytes) -> ParseResult:
    """Parse a whole CSV file. Every bad line is reported as ``line N: ...`` (N counts the header as 1)."""
    result = ParseResult()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            result.error("file", "not UTF-8 text")
            return result
    reader = csv.reader(io.StringIO(data))
    header = next(reader, None)
    if header is None:
        result.error("line 1", "empty file")
        return result
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        result.error("line 1", f"header lacks column(s) {', '.join(missing)}")
        return result
    col = {name: names.index(name) for name in (*REQUIRED, "account_number") if name in names}
    accounts: set[str] = set()
    for lineno, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        ref = f"line {lineno}"
        if len(fields) < len(names):
            result.error(ref, f"{len(fields)} fields, expected {len(names)}", "too few fields")
            continue
        meter_id = fields[col["meter_id"]].strip()
        if not meter_id:
            result.error(ref, "meter_id is empty")
            continue
        try:
            start = parse_start(fields[col["start"]])
        except ValueError as exc:
            problem = "time has no UTC offset" if "no UTC offset" in str(exc) else "start is not an ISO 8601 time"
            result.error(ref, str(exc), problem)
            continue
        try:
            kwh = parse_kwh(fields[col["kwh"]])
        except ValueError as exc:
            result.error(ref, str(exc), "kwh is not a number")
            continue
        if "account_number" in col and fields[col["account_number"]].strip():
            accounts.add(fields[col["account_number"]].strip())
        result.rows.append(ParsedReading(meter_id=meter_id, start=start, kwh=kwh, ref=ref))
    if len(accounts) > 1:
        result.error("account_number", f"the file names several utility accounts: {', '.join(sorted(accounts))}")
    elif accounts:
        result.account_number = accounts.pop()
    if not result.rows and not result.errors:
        result.error("file", "no readings")
    return result
