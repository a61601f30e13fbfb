"""Typed rows and errors shared by the parsers and the import services (plain data, no ORM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

MAX_ERRORS = 20


@dataclass(frozen=True)
class ParsedReading:
    """One interval reading: ``start`` aware UTC, ``kwh`` Decimal; ``ref`` names where it came from."""

    meter_id: str
    start: datetime
    kwh: Decimal
    ref: str
    duration_seconds: int | None = None


@dataclass(frozen=True)
class RecordError:
    ref: str
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"


@dataclass
class ParseResult:
    rows: list[ParsedReading] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    account_number: str = ""
    skipped: int = 0
    meta: dict = field(default_factory=dict)

    def error(self, ref: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RecordError(ref, message))

    @property
    def ok(self) -> bool:
        return not self.errors
