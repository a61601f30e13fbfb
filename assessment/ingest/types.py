"""Typed rows and errors shared by the parsers and the import services (plain data, no ORM).

Problems are reported once each: a :class:`RecordError` carries the ``problem`` it is an instance of (a
message without the record's own values), and :class:`Problems` counts every instance while keeping only the
first few positions, so a file with two million bad lines answers with one line per distinct problem, its true
count and where it first occurs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

MAX_ERRORS = 20  # distinct problems listed (further distinct problems are counted, not listed)
FIRST_POSITIONS = 3  # examples kept per problem


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
    problem: str = ""  # what kind of problem, for grouping (the message without the record's values)

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"

    @property
    def kind(self) -> str:
        return self.problem or self.message


class Problems:
    """Distinct problems, each with its count and its first :data:`FIRST_POSITIONS` records."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[RecordError] = []
        self._listed: set[str] = set()

    def add(self, ref: str, message: str, problem: str | None = None) -> None:
        kind = problem or message
        self.counts[kind] += 1
        if self.counts[kind] == 1 and len(self._listed) < MAX_ERRORS:
            self._listed.add(kind)
        if kind in self._listed and self.counts[kind] <= FIRST_POSITIONS:
            self.examples.append(RecordError(ref, message, kind))

    def extend(self, errors) -> None:
        for e in errors:
            self.add(e.ref, e.message, e.kind)

    def merge(self, other: Problems) -> None:
        """Add another collection's problems (their examples and exact counts)."""
        for kind, n in other.counts.items():
            examples = [e for e in other.examples if e.kind == kind]
            for e in examples:
                self.add(e.ref, e.message, kind)
            self.counts[kind] += n - len(examples)

    def __bool__(self) -> bool:
        return bool(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> list[str]:
        """One line per distinct problem, in order of first occurrence: the problem, its count, where it first
        occurs; a last line counts the distinct problems not listed."""
        firsts: dict[str, list[str]] = {}
        for e in self.examples:
            firsts.setdefault(e.kind, []).append(e.ref)
        lines = []
        for kind, refs in firsts.items():
            n = self.counts[kind]
            where = ", ".join(refs) + (", ..." if n > len(refs) else "")
            lines.append(f"{kind}: {n:,} record{'s' if n != 1 else ''} ({where})")
        unlisted = [k for k in self.counts if k not in firsts]
        if unlisted:
            count = sum(self.counts[k] for k in unlisted)
            lines.append(f"{len(unlisted)} more distinct problems: {count:,} records")
        return lines


@dataclass
class ParseResult:
    rows: list[ParsedReading] = field(default_factory=list)
    account_number: str = ""
    skipped: int = 0
    meta: dict = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)

    def error(self, ref: str, message: str, problem: str | None = None) -> None:
        self.problems.add(ref, message, problem)

    @property
    def errors(self) -> list[RecordError]:
        return self.problems.examples

    @property
    def ok(self) -> bool:
        return not self.problems
