"""Automatic KYC rule checks on plain data: document expiry, name matching, sanctions-list screening.

Pure functions (no ORM). Name matching follows the usual screening practice (as in OFAC's Sanctions List
Search guidance and the EU Financial Sanctions Files): compare names case-, accent- and punctuation-insensitively
and independent of word order ("Doe, John" == "John Doe").
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class RuleFinding:
    rule: str
    detail: str
    blocking: bool = False  # a blocking finding rejects the case outright; others refer it to a reviewer

    def as_dict(self) -> dict:
        return {"rule": self.rule, "detail": self.detail, "blocking": self.blocking}


def normalise_name(name: str) -> str:
    """Lower case, accents and punctuation removed, words sorted: a key two spellings of one name share."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(sorted(letters.lower().split()))


def identity_key(*, doc_type: str, country: str, number: str) -> str:
    return f"{doc_type}:{country.upper()}:{''.join(c for c in number.upper() if c.isalnum())}"


def document_expired(*, expires_on: date | None, today: date) -> bool:
    """A document is valid through its expiry date and expired from the day after."""
    return expires_on is not None and expires_on < today


@dataclass(frozen=True)
class SanctionsEntry:
    name: str
    kind: str
    programme: str


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> dict[str, SanctionsEntry]:
    entries: dict[str, SanctionsEntry] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if line.strip() and not line.startswith("#"))
        for row in rows:
            name = (row.get("name") or "").strip()
            if name:
                entries[normalise_name(name)] = SanctionsEntry(
                    name=name, kind=(row.get("type") or "").strip(), programme=(row.get("programme") or "").strip()
                )
    return entries


def sanctions_list(path: str | Path) -> dict[str, SanctionsEntry]:
    """The sanctions list at ``path`` keyed by normalised name (re-read when the file changes)."""
    p = Path(path)
    return _load(str(p), p.stat().st_mtime)


def sanctions_matches(*, names: list[str], path: str | Path) -> list[SanctionsEntry]:
    listed = sanctions_list(path)
    out = []
    for name in names:
        hit = listed.get(normalise_name(name))
        if hit is not None and hit not in out:
            out.append(hit)
    return out
