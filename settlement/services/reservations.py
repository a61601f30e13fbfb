"""Availability payments for reservations (capacity-reservation and ancillary awards held for a buyer).

Rule ``reservation-availability-1``, per reservation and whole UTC day of a settlement run:

    amount = reserved kW x hours of the reservation inside the day x availability factor
             x availability price ($ per MW and hour held, the award's clearing price) / 1000

rounded once, half-up, to the cent (ADR 0008), paid by the buyer's operator-payable account to the premise's
owner (as event payments are). This is the capability/availability credit of PJM's ancillary markets
(Manual 11: regulation capability and synchronized reserve credits are MW cleared x hours x clearing price)
and the availability payment of a capacity-reservation product. The energy of a call is not paid here: a
called reservation is an activation event with its own price and buyer, settled with the other events.

Availability factor = metered share of the resource's day (intervals received / intervals expected, the run's
``settlement.services.metering.meter_availability``) x the share of the reservation's calls that day whose resource was available (the
activation app's ``EventPerformance.available``: acknowledged, not opted out; 1 when it was not called). A day with a call
not verified yet is not paid until a later run finds every call verified. The business key names the reservation and the day, so a re-run pays nothing twice.

The same day mints Capacity tokens (``capacity-token-1``) and Availability tokens (``availability-token-1``) to the
resource's owner (``settlement.services.token_rules``); a reservation an aggregator sold with a member's premise pays
the member's share and the aggregator's fee under the member's terms (``settlement.services.splits``, ADR 0024).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from activation.models import DREvent, EventPerformance, Reservation

from .. import assets
from ..models import LedgerAccount, SettlementItem
from . import token_rules
from .ledger import accounts_ensure
from .metering import meter_availability
from .posting import EntrySpec, ItemSpec
from .splits import portfolio_sales, sale_accounts, split_entries

DAY = timedelta(days=1)
HOUR = Decimal(3600)


def reservation_availability_factor(*, metered: int, expected: int, calls: int, calls_available: int) -> Decimal:
    """Share of the day's intervals metered x share of the day's verified calls the resource was available for."""
    metered_share = Decimal(metered) / Decimal(expected) if expected else Decimal("0")
    called_share = Decimal(calls_available) / Decimal(calls) if calls else Decimal("1")
    return metered_share * called_share


def reservation_availability_amount(
    *, reserved_kw: Decimal, hours: Decimal, factor: Decimal, price_per_mwh: Decimal
) -> Decimal:
    return assets.money(reserved_kw * hours * factor * price_per_mwh / Decimal(1000))


def reservation_availability_entries(run, *, days: list[datetime]) -> list[EntrySpec]:
    """The availability payment of every reservation overlapping each whole day of the run."""
    currency = settings.SETTLEMENT_CURRENCY
    out: list[EntrySpec] = []
    for day in days:
        reservations = list(
            Reservation.objects.filter(window_start__lt=day + DAY, window_end__gt=day)
            .select_related("premise")
            .order_by("pk")
        )
        if not reservations:
            continue
        avail = meter_availability(sorted({r.premise_id for r in reservations}), day)
        calls: dict[int, list[bool]] = {}
        failed: dict[int, list[tuple[datetime, datetime]]] = {}  # calls the resource was unavailable for
        for rid, available, c_start, c_end in EventPerformance.objects.filter(
            event__reservation__in=reservations, event__start__gte=day, event__start__lt=day + DAY
        ).values_list("event__reservation_id", "available", "event__start", "event__end"):
            calls.setdefault(rid, []).append(available)
            if not available:
                failed.setdefault(rid, []).append((c_start, c_end))
        called: dict[int, int] = {}  # the day's calls that count (not cancelled), verified or not
        for rid in (
            DREvent.objects.filter(reservation__in=reservations, start__gte=day, start__lt=day + DAY)
            .exclude(status=DREvent.Status.CANCELLED)
            .values_list("reservation_id", flat=True)
        ):
            called[rid] = called.get(rid, 0) + 1
        keys = {(None, LedgerAccount.Kind.TREASURY, a) for a in (assets.CAPACITY, assets.AVAILABILITY)}
        for r in reservations:
            keys |= {
                (r.buyer_id, LedgerAccount.Kind.OPERATOR_PAYABLE, currency),
                (r.premise.organisation_id, LedgerAccount.Kind.PARTICIPANT, currency),
            }
            keys |= {
                (r.premise.organisation_id, LedgerAccount.Kind.PARTICIPANT, a)
                for a in (assets.CAPACITY, assets.AVAILABILITY)
            }
        acct = accounts_ensure(keys)
        sales = portfolio_sales(r.award_id for r in reservations)
        acct.update(sale_accounts(sales))
        stamp = day.date().isoformat()
        for r in reservations:
            start, end = max(r.window_start, day), min(r.window_end, day + DAY)
            hours = Decimal(int((end - start).total_seconds())) / HOUR
            metered, expected, ready = avail[r.premise_id]
            made = calls.get(r.pk, [])
            if len(made) < called.get(r.pk, 0):
                continue  # a call of that day is not verified yet: paid by a later run, once it is
            factor = reservation_availability_factor(
                metered=metered, expected=expected, calls=len(made), calls_available=sum(made)
            )
            amount = reservation_availability_amount(
                reserved_kw=r.reserved_kw, hours=hours, factor=factor, price_per_mwh=r.availability_price_per_mwh
            )
            payee = r.premise.organisation_id
            honoured = token_rules.honoured_hours(
                window_start=start, window_end=end, ready_hours=ready, failed_calls=failed.get(r.pk, [])
            )
            out += reservation_token_entries(
                r,
                acct=acct,
                payee=payee,
                stamp=stamp,
                start=start,
                kw_hours=r.reserved_kw * hours,
                factor=factor,
                capacity=token_rules.capacity_tokens(
                    reserved_kw=r.reserved_kw, hours=hours, availability_factor=factor
                ),
                honoured=len(honoured),
            )
            if amount <= 0:
                continue
            memo = (
                f"Availability, reservation {r.pk} ({r.product}): {r.reserved_kw} kW x {hours} h x "
                f"{factor:.4f} x {r.availability_price_per_mwh}/MW-h, {stamp}"
            )[:300]
            sale = sales.get(r.award_id)
            if sale is not None:  # member share and aggregator fee (ADR 0024)
                out += split_entries(
                    sale=sale,
                    acct=acct,
                    payer_account=acct[(r.buyer_id, LedgerAccount.Kind.OPERATOR_PAYABLE, currency)],
                    fact=f"reservation:{r.pk}:day:{stamp}",
                    revenue=amount,
                    at=start,
                    what=memo,
                    kw=r.reserved_kw,
                    hours=hours,
                    quantity=(r.reserved_kw * hours).quantize(Decimal("0.0001")),
                    price=r.availability_price_per_mwh,
                    premise_id=r.premise_id,
                )
                continue
            key = f"availability_payment:reservation:{r.pk}:day:{stamp}"
            out.append(
                EntrySpec(
                    key,
                    memo,
                    [
                        (acct[(r.buyer_id, LedgerAccount.Kind.OPERATOR_PAYABLE, currency)], currency, -amount),
                        (acct[(payee, LedgerAccount.Kind.PARTICIPANT, currency)], currency, amount),
                    ],
                    [
                        ItemSpec(
                            business_key=key,
                            kind=SettlementItem.Kind.CAPACITY,
                            payee_id=payee,
                            asset=currency,
                            amount=amount,
                            delivery_start=start,
                            quantity_kwh=(r.reserved_kw * hours).quantize(Decimal("0.0001")),
                            price_per_mwh=r.availability_price_per_mwh,
                            premise_id=r.premise_id,
                            award_id=r.award_id,
                            memo=memo,
                        )
                    ],
                )
            )
    return out


def reservation_token_entries(
    r, *, acct, payee: int, stamp: str, start: datetime, kw_hours, factor, capacity, honoured: int
) -> list[EntrySpec]:
    """Capacity tokens (``capacity-token-1``) and Availability tokens (``availability-token-1``) of one
    reservation day, minted from the treasury to the resource's owner, with the counted numbers in the memo."""
    out = []
    for kind, asset, n, qty, what in (
        (
            SettlementItem.Kind.CAPACITY_TOKEN,
            assets.CAPACITY,
            capacity,
            kw_hours,
            f"{kw_hours} kW-h reserved x availability {factor:.4f}",
        ),
        (
            SettlementItem.Kind.AVAILABILITY,
            assets.AVAILABILITY,
            token_rules.availability_tokens(honoured),
            Decimal(honoured),
            f"{honoured} h of honoured readiness",
        ),
    ):
        if n <= 0:
            continue
        key = f"{kind}:reservation:{r.pk}:day:{stamp}"
        memo = f"{asset} issued, reservation {r.pk} ({r.product}): {what}, {stamp}"[:300]
        out.append(
            EntrySpec(
                key,
                memo,
                [
                    (acct[(None, LedgerAccount.Kind.TREASURY, asset)], asset, -n),
                    (acct[(payee, LedgerAccount.Kind.PARTICIPANT, asset)], asset, n),
                ],
                [
                    ItemSpec(
                        business_key=key,
                        kind=kind,
                        payee_id=payee,
                        asset=asset,
                        amount=n,
                        delivery_start=start,
                        quantity_kwh=qty.quantize(Decimal("0.0001")),
                        premise_id=r.premise_id,
                        award_id=r.award_id,
                        memo=memo,
                    )
                ],
            )
        )
    return out
