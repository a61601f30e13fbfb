"""The grid-zone hierarchy: zones below zones, and each zone's compliance jurisdiction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from ..models import GridZone


def _with_descendants(children: dict[int | None, list[int]], ids: Iterable[int]) -> set[int]:
    out: set[int] = set()
    stack = list(ids)
    while stack:
        zid = stack.pop()
        if zid in out:
            continue
        out.add(zid)
        stack.extend(children.get(zid, []))
    return out


def zone_with_descendant_ids(zones: Iterable[GridZone]) -> set[int]:
    """The ids of the given zones and every zone below them in the grid hierarchy."""
    children: dict[int | None, list[int]] = {}
    for zid, parent in GridZone.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(zid)
    return _with_descendants(children, (z.pk for z in zones))


@dataclass(frozen=True)
class ZoneIndex:
    """Every grid zone, read in one query, for a caller that needs a zone by code and the hierarchy below it
    several times in one request (the market's order entry)."""

    by_code: dict[str, GridZone]
    children: dict[int | None, list[int]]

    def with_descendant_ids(self, zone_ids: Iterable[int]) -> set[int]:
        return _with_descendants(self.children, zone_ids)


def zone_index() -> ZoneIndex:
    by_code: dict[str, GridZone] = {}
    children: dict[int | None, list[int]] = {}
    for z in GridZone.objects.order_by():
        by_code[z.code] = z
        children.setdefault(z.parent_id, []).append(z.pk)
    return ZoneIndex(by_code=by_code, children=children)


def zone_jurisdiction(zone: GridZone) -> str:
    """The compliance profile code of a zone: its own or its nearest ancestor's."""
    seen: set[int] = set()
    z: GridZone | None = zone
    while z is not None and z.pk not in seen:
        if z.jurisdiction:
            return z.jurisdiction
        seen.add(z.pk)
        z = z.parent
    return ""


def zone_timezone(zone: GridZone) -> str:
    """The IANA timezone of a zone: its own or its nearest ancestor's; UTC when none is set."""
    seen: set[int] = set()
    z: GridZone | None = zone
    while z is not None and z.pk not in seen:
        if z.timezone:
            return z.timezone
        seen.add(z.pk)
        z = z.parent
    return "UTC"


def zone_jurisdiction_map() -> dict[int, str]:
    """Every zone's compliance profile code (its own or its nearest ancestor's), in one query."""
    rows = {
        zid: (parent, code) for zid, parent, code in GridZone.objects.values_list("id", "parent_id", "jurisdiction")
    }
    out: dict[int, str] = {}
    for zid in rows:
        z, seen = zid, set()
        while z is not None and z not in seen:
            seen.add(z)
            parent, code = rows[z]
            if code:
                out[zid] = code
                break
            z = parent
        out.setdefault(zid, "")
    return out


def grid_zones() -> QuerySet[GridZone]:
    return GridZone.objects.all()


def grid_zone_by_code(code: str) -> GridZone:
    """The zone with ``code``; raises ``GridZone.DoesNotExist``."""
    return GridZone.objects.get(code=code)
