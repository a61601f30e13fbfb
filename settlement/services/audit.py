"""Audit of anchored settlement periods: recompute every anchored root from the database, compare it with
the stored anchor and with the chain, and raise an :class:`~settlement.models.AnchorAlert` on any difference.

This is what makes the anchoring tamper-evident in practice: a settlement row changed after its hour was
anchored (by a bug, a manual SQL fix or an attacker) no longer hashes to the root on chain.
Run by ``manage.py audit_anchors`` and the periodic task ``settlement.tasks.audit_anchors``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings

from ..merkle_leaves import parse_leaf_value
from ..models import AnchorAlert, PeriodAnchor
from .anchoring import alert_raise, chain_client, period_leaf_values, period_number, tree_for_values

log = logging.getLogger(__name__)


@dataclass
class AuditResult:
    checked: int = 0
    alerts: list[AnchorAlert] = field(default_factory=list)
    chain_error: str = ""

    @property
    def clean(self) -> bool:
        return not self.alerts and not self.chain_error


def _client_for(base, address: str, cache: dict):
    if address not in cache:
        other = base.with_key(settings.CHAIN_PRIVATE_KEY)
        other.contract_address = address
        cache[address] = other
    return cache[address]


_FIELDS = ("item id", "participant", "asset", "amount (minor units)", "period")


def _show(value) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def items_changed_text(dump: dict, values: list[tuple]) -> str:
    """Which settlement items differ from the anchored tree's stored dump, field by field."""
    try:
        anchored = {v[0]: v for v in (parse_leaf_value(entry["value"]) for entry in dump.get("values") or [])}
    except (KeyError, TypeError, ValueError):
        return "The stored tree dump cannot be read to name the items."
    current = {v[0]: v for v in values}
    lines = []
    for item_id in sorted(anchored.keys() | current.keys()):
        before, after = anchored.get(item_id), current.get(item_id)
        if before == after:
            continue
        if before is None:
            lines.append(f"item {item_id} was added after anchoring")
        elif after is None:
            lines.append(f"item {item_id} was deleted after anchoring")
        else:
            changes = [
                f"{name} {_show(b)} -> {_show(a)}" for name, b, a in zip(_FIELDS, before, after, strict=True) if a != b
            ]
            lines.append(f"item {item_id} changed: " + ", ".join(changes))
    return ("Changed: " + "; ".join(lines) + ".") if lines else ""


def anchors_audit(*, client=None) -> AuditResult:
    """Check every confirmed anchor against the database and the chain; returns the alerts raised."""
    result = AuditResult()
    base = client or chain_client()
    clients: dict = {}
    for anchor in PeriodAnchor.objects.filter(status=PeriodAnchor.Status.CONFIRMED).select_related(
        "period", "deployment"
    ):
        result.checked += 1
        values = period_leaf_values(anchor.period)
        recomputed = "0x" + tree_for_values(values).root.hex() if values else "(no items)"
        if recomputed != anchor.root or len(values) != anchor.leaf_count:
            result.alerts.append(
                alert_raise(
                    anchor=anchor,
                    kind=AnchorAlert.Kind.DATABASE_CHANGED,
                    detail=(
                        f"Settlement items of {anchor.period} now hash to {recomputed} ({len(values)} leaves); "
                        f"anchored root {anchor.root} ({anchor.leaf_count} leaves). "
                        + items_changed_text(anchor.tree_dump, values)
                    ),
                )
            )
        if anchor.deployment is None:
            continue
        try:
            chain = _client_for(base, anchor.deployment.address, clients)
            period = period_number(anchor.period)
            onchain = "0x" + chain.root_of(period).hex()
            if onchain == "0x" + "00" * 32:
                kind, detail = AnchorAlert.Kind.MISSING_ON_CHAIN, f"No root on chain for {anchor.period}."
            elif onchain != anchor.root:
                kind, detail = AnchorAlert.Kind.CHAIN_MISMATCH, f"Chain holds {onchain}, database {anchor.root}."
            else:
                count = chain.leaf_count_of(period, from_block=max((anchor.block_number or 0) - 1, 0))
                if count == anchor.leaf_count:
                    continue
                kind = AnchorAlert.Kind.LEAF_COUNT_MISMATCH
                detail = f"RootAnchored log says {count} leaves, database {anchor.leaf_count}."
        except (ConnectionError, OSError) as exc:
            result.chain_error = f"Chain unreachable: {exc}"
            log.warning("anchor audit: %s", result.chain_error)
            continue
        result.alerts.append(alert_raise(anchor=anchor, kind=kind, detail=detail))
    return result
