"""Read models for settlement: earnings, items, anchors, proofs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from accounts.models import Organisation
from flexplatform.errors import Conflict

# The governed parameters are the market's (``market.parameters``); re-exported for settlement's readers.
from market.parameters import PARAMETERS_VERSION as PARAMETERS_VERSION
from market.parameters import market_parameter as market_parameter
from market.parameters import market_parameters as market_parameters

from .errors import SettlementError
from .models import AnchorAlert, ChainDeployment, LedgerAccount, PeriodAnchor, Posting, SettlementItem


def items_visible_to(user) -> QuerySet[SettlementItem]:
    """Settlement items a user may see: their organisations' (every item for admins and auditors,
    ``accounts.policies.organisation_scope``)."""
    from accounts import policies

    orgs = policies.organisation_scope(user)
    if orgs is None:
        return SettlementItem.objects.select_related("period", "premise")
    return settlement_items_for(organisations=orgs)


def settlement_items_for(*, organisations: list[Organisation]) -> QuerySet[SettlementItem]:
    return SettlementItem.objects.filter(payee__in=organisations).select_related("premise", "period", "event")


def earnings_total(*, organisations: list[Organisation], currency: str) -> Decimal:
    """The organisations' net position in ``currency``: what the platform owes them (participant accounts) less
    what they owe it (receivables: penalties larger than the balance they were charged against)."""
    total = Posting.objects.filter(
        account__organisation__in=organisations,
        account__kind__in=[LedgerAccount.Kind.PARTICIPANT, LedgerAccount.Kind.RECEIVABLE],
        asset=currency,
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return total.quantize(Decimal("0.0001"))  # SQLite sums decimals as floats


def money_home(*, organisations: list[Organisation], currency: str, since: datetime) -> tuple[Decimal, dict]:
    """The consumer home's two money figures in one query: the net position in ``currency``
    (:func:`earnings_total`) and the amounts settled since ``since`` per currency or token (items by delivery)."""
    from django.db.models import CharField, Value

    month = (
        SettlementItem.objects.filter(payee__in=organisations, delivery_start__gte=since)
        .order_by()
        .values("currency")
        .annotate(part=Value("month", output_field=CharField()), total=Sum("amount"))
        .values_list("part", "currency", "total")
    )
    balance = (
        Posting.objects.filter(
            account__organisation__in=organisations,
            account__kind__in=[LedgerAccount.Kind.PARTICIPANT, LedgerAccount.Kind.RECEIVABLE],
            asset=currency,
        )
        .order_by()
        .values("asset")
        .annotate(part=Value("balance", output_field=CharField()), total=Sum("amount"))
        .values_list("part", "asset", "total")
    )
    net, totals = Decimal("0"), {}
    for part, unit, total in month.union(balance, all=True):
        value = total if isinstance(total, Decimal) else Decimal(str(total or 0))
        if part == "balance":
            net = value
        else:
            totals[unit] = value
    return net.quantize(Decimal("0.0001")), totals  # SQLite sums decimals as floats


def ledger_is_balanced() -> bool:
    """True when every journal entry's postings sum to zero per asset."""
    # Off by half a unit of the amount's last (4th) place or more: exact on Postgres, float-tolerant on SQLite.
    half_unit = Decimal("0.00005")
    unbalanced = (
        Posting.objects.values("entry_id", "asset")
        .annotate(total=Sum("amount"))
        .filter(Q(total__gte=half_unit) | Q(total__lte=-half_unit))
        .exists()
    )
    return not unbalanced


def anchors_recent(limit: int = 50) -> QuerySet[PeriodAnchor]:
    return PeriodAnchor.objects.select_related("period", "deployment").order_by("-period__start")[:limit]


def anchor_alerts_open() -> list[AnchorAlert]:
    return list(AnchorAlert.objects.filter(resolved_at__isnull=True).select_related("anchor__period"))


def anchor_publication() -> dict | None:
    """The deployment the platform publishes and every verifier pins: chain id, FlexAnchor address, deployment block.

    ``CHAIN_CONTRACT_ADDRESS`` (with ``CHAIN_ID`` and ``CHAIN_DEPLOYMENT_BLOCK``) when set; otherwise the contract
    the platform deployed itself on ``CHAIN_RPC_URL`` (development). None before there is one.
    Served at ``/.well-known/flexplatform-anchor.json`` and copied into every proof bundle.
    """
    if settings.CHAIN_CONTRACT_ADDRESS:
        row = (
            ChainDeployment.objects.filter(address__iexact=settings.CHAIN_CONTRACT_ADDRESS, lost_at=None)
            .order_by("-id")
            .first()
        )
        chain_id = settings.CHAIN_ID if settings.CHAIN_ID is not None else (row.chain_id if row else None)
        if chain_id is None:
            return None
        address = settings.CHAIN_CONTRACT_ADDRESS
    else:
        # A deployment lost with its chain (a node restarted without its state) is never published.
        row = ChainDeployment.objects.filter(rpc_url=settings.CHAIN_RPC_URL, lost_at=None).order_by("-id").first()
        if row is None:
            return None
        chain_id, address = row.chain_id, row.address
    # Logs are read from this block on (the recorded deployment block, else from genesis: slower, equally correct).
    block = settings.CHAIN_DEPLOYMENT_BLOCK
    if block is None:
        block = (row.deploy_block if row is not None else None) or 0
    return {
        "format": "flexplatform-anchor-v1",
        "chain_id": chain_id,
        "contract_address": address,
        "deployment_block": block,
        "contract": "FlexAnchor",
        "event": "RootAnchored(uint64 indexed period, bytes32 root, uint64 leafCount, uint64 blockNumber)",
        "leaf_encoding": ["uint256", "bytes32", "bytes32", "int256", "uint64"],
    }


class ProofRecordChanged(Conflict):
    """A settlement row no longer hashes to a leaf of its anchored tree (changed after anchoring)."""

    code = SettlementError.RECORD_CHANGED


def item_proof(*, item: SettlementItem) -> dict | None:
    """The leaf values, proof and anchoring facts of an item, or None while its period is not sealed.

    Raises :class:`ProofRecordChanged` when the item no longer matches its anchored root."""
    from .merkle import MerkleTree, leaf_hash
    from .services.anchoring import item_leaf_values

    anchor = PeriodAnchor.objects.filter(period_id=item.period_id).select_related("deployment", "period").first()
    if anchor is None:
        return None
    tree = MerkleTree.load(anchor.tree_dump)
    values = item_leaf_values(item)
    leaf = leaf_hash(values)
    try:
        proof = tree.proof(leaf)
    except (KeyError, ValueError) as exc:
        raise ProofRecordChanged(
            f"Payment {item.pk}: this record no longer matches the anchored root of {anchor.period} "
            f"({anchor.root}). It was changed after anchoring, so no proof can be given; the platform's anchor audit reports it to the operators."
        ) from exc
    return {
        "format": "flexplatform-proof-v1",
        "item_id": item.pk,
        "leaf_encoding": list(anchor.tree_dump.get("leafEncoding", [])),
        "leaf_values": [str(values[0]), "0x" + values[1].hex(), "0x" + values[2].hex(), str(values[3]), str(values[4])],
        "leaf": "0x" + leaf.hex(),
        "proof": ["0x" + p.hex() for p in proof],
        "root": anchor.root,
        "leaf_count": anchor.leaf_count,
        "period": int(anchor.period.start.timestamp()),
        "period_start": anchor.period.start.isoformat(),
        "status": anchor.status,
        "tx_hash": anchor.tx_hash,
        "block_number": anchor.block_number,
        "block_hash": anchor.block_hash or None,
        "chain_id": anchor.deployment.chain_id if anchor.deployment else None,
        "contract_address": anchor.deployment.address if anchor.deployment else None,
        "published": anchor_publication(),
    }


def token_balances(*, organisation: Organisation) -> dict[str, Decimal]:
    """Free (participant) and staked balance of every asset the organisation holds."""
    rows = LedgerAccount.objects.filter(
        organisation=organisation, kind__in=[LedgerAccount.Kind.PARTICIPANT, LedgerAccount.Kind.STAKED]
    ).values_list("asset", "kind", "balance")
    out: dict[str, dict[str, Decimal]] = {}
    for asset, kind, balance in rows:
        out.setdefault(asset, {"free": Decimal("0"), "staked": Decimal("0")})
        out[asset]["free" if kind == LedgerAccount.Kind.PARTICIPANT else "staked"] = balance
    return out


TOKEN_POSITIONS = {
    LedgerAccount.Kind.PARTICIPANT: "free",
    LedgerAccount.Kind.STAKED: "staked",
    LedgerAccount.Kind.CLAIMABLE: "claimable",
    LedgerAccount.Kind.CLAIMED: "claimed",
}


def token_positions(*, organisations) -> dict[str, dict[str, Decimal]]:
    """Where each asset of the organisations is, in one query: free on the platform, staked, claimable on chain
    (moved by a claims epoch to the linked wallet's Merkle leaf) and claimed (minted to the wallet). Their sum is
    what the organisations earned in tokens, so every page that shows a token balance agrees (ADR 0023)."""
    rows = (
        LedgerAccount.objects.filter(organisation__in=organisations, kind__in=list(TOKEN_POSITIONS))
        .values("asset", "kind")
        .annotate(total=Sum("balance"))
    )
    out: dict[str, dict[str, Decimal]] = {}
    for r in rows:
        position = out.setdefault(r["asset"], {k: Decimal("0") for k in TOKEN_POSITIONS.values()})
        position[TOKEN_POSITIONS[r["kind"]]] += r["total"] or Decimal("0")
    return out


def earnings_by_day(*, organisations: list[Organisation], currency: str) -> dict:
    """Fiat earnings per UTC day (chart data; floats for display only)."""
    from django.db.models.functions import TruncDate

    rows = (
        SettlementItem.objects.filter(payee__in=organisations, currency=currency)
        .annotate(day=TruncDate("delivery_start"))
        .values("day")
        .annotate(total=Sum("amount"))
        .order_by("day")
    )
    return {"labels": [r["day"].isoformat() for r in rows], "values": [float(r["total"]) for r in rows]}


def balances_match_postings() -> bool:
    """True when every account's balance column equals the sum of its postings."""
    sums = dict(Posting.objects.values("account_id").annotate(t=Sum("amount")).values_list("account_id", "t"))
    return not balance_mismatches(sums)


def balance_mismatches(sums: dict | None = None) -> list[tuple[int, Decimal, Decimal]]:
    """(account, balance column, sum of postings) for every account where they differ."""
    if sums is None:
        sums = dict(Posting.objects.values("account_id").annotate(t=Sum("amount")).values_list("account_id", "t"))
    # Postings carry 4 decimals; SQLite sums them as floats, so compare at that precision.
    sums = {pk: Decimal(t).quantize(Decimal("0.0001")) for pk, t in sums.items() if t is not None}
    return [
        (pk, bal, sums.get(pk) or Decimal("0"))
        for pk, bal in LedgerAccount.objects.values_list("pk", "balance")
        if (sums.get(pk) or Decimal("0")) != bal
    ]


def settlement_item_payable_to(*, organisations: list[Organisation], pk) -> SettlementItem | None:
    """The item ``pk`` when one of ``organisations`` is its payee (a participant disputes only its own items)."""
    return SettlementItem.objects.filter(payee__in=organisations, pk=pk).first()


def participant_compensation(*, organisations: list[Organisation], aggregator: bool) -> dict:
    """The participant's items, stakes and disputes (the compensation page); for an aggregator also its fees
    and the shares it paid out to members."""
    from .models import Dispute, Stake

    items = SettlementItem.objects.filter(payee__in=organisations).select_related("premise")
    items = items.order_by("-delivery_start", "-pk")
    return {
        "items": items[:100],
        "stakes": Stake.objects.filter(organisation__in=organisations),
        "disputes": Dispute.objects.filter(item__payee__in=organisations).select_related("item")[:50],
        "fees": items.filter(kind=SettlementItem.Kind.AGGREGATOR_FEE)[:50] if aggregator else [],
        "member_payouts": SettlementItem.objects.filter(
            kind=SettlementItem.Kind.MEMBER_SHARE, contract__participant__in=organisations
        ).select_related("payee")[:100]
        if aggregator
        else [],
    }


def settlement_console_lists() -> dict:
    """The admin's settlement console: recent runs, open and closed disputes, recent proposals."""
    from .models import Dispute, Proposal, SettlementRun

    return {
        "runs": SettlementRun.objects.all()[:30],
        "open_disputes": Dispute.objects.filter(status=Dispute.Status.OPEN).select_related("item", "item__payee"),
        "closed_disputes": Dispute.objects.exclude(status=Dispute.Status.OPEN).select_related("item")[:30],
        "proposals": Proposal.objects.select_related("proposer")[:30],
    }


def anchors_confirmed_count() -> int:
    return PeriodAnchor.objects.filter(status=PeriodAnchor.Status.CONFIRMED).count()
