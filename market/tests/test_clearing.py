"""Merit-order uniform-price clearing (pure)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from market.clearing import OfferIn, clear_merit_order

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def offer(i, kw, price, dt=0):
    return OfferIn(offer_id=i, kw=D(kw), price_per_mwh=D(price), submitted_at=T0 + timedelta(seconds=dt))


def test_cheapest_first_and_marginal_offer_sets_the_price():
    result = clear_merit_order(
        request_kw=D("100"),
        max_price_per_mwh=D("200"),
        offers=[offer(1, "60", "150"), offer(2, "50", "90"), offer(3, "80", "120"), offer(4, "500", "250")],
    )
    assert [(a.offer_id, a.kw) for a in result.awards] == [(2, D("50")), (3, D("50"))]
    assert result.clearing_price_per_mwh == D("120")
    assert result.awarded_kw == D("100")


def test_offers_above_the_cap_are_never_taken_and_shortfall_is_not_invented():
    result = clear_merit_order(
        request_kw=D("100"), max_price_per_mwh=D("100"), offers=[offer(1, "30", "99.99"), offer(2, "80", "100.01")]
    )
    assert [(a.offer_id, a.kw) for a in result.awards] == [(1, D("30"))]
    assert result.awarded_kw == D("30")
    assert result.clearing_price_per_mwh == D("99.99")


def test_ties_are_broken_by_time_then_id():
    offers = [offer(7, "10", "100", dt=5), offer(3, "10", "100", dt=5), offer(9, "10", "100", dt=1)]
    result = clear_merit_order(request_kw=D("15"), max_price_per_mwh=D("100"), offers=offers)
    assert [(a.offer_id, a.kw) for a in result.awards] == [(9, D("10")), (3, D("5"))]
    assert clear_merit_order(request_kw=D("15"), max_price_per_mwh=D("100"), offers=offers[::-1]) == result


def test_no_eligible_offer_gives_no_price():
    result = clear_merit_order(request_kw=D("10"), max_price_per_mwh=D("50"), offers=[offer(1, "10", "60")])
    assert result.awards == [] and result.clearing_price_per_mwh is None


kw = st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3)
price = st.decimals(min_value=D("0"), max_value=D("500"), places=2)


@given(request_kw=kw, cap=price, offers=st.lists(st.tuples(kw, price), max_size=30))
def test_never_awards_more_than_asked_or_offered_and_prices_are_consistent(request_kw, cap, offers):
    ins = [offer(i, k, p, dt=i) for i, (k, p) in enumerate(offers)]
    result = clear_merit_order(request_kw=request_kw, max_price_per_mwh=cap, offers=ins)
    by_id = {o.offer_id: o for o in ins}
    assert result.awarded_kw <= request_kw
    assert result.awarded_kw <= sum((o.kw for o in ins), D("0"))
    for a in result.awards:
        assert 0 < a.kw <= by_id[a.offer_id].kw
        assert by_id[a.offer_id].price_per_mwh <= result.clearing_price_per_mwh <= cap
    # Every offer cheaper than the clearing price and left out would be a merit-order violation.
    taken = {a.offer_id for a in result.awards}
    if result.awarded_kw < request_kw:
        assert all(o.offer_id in taken or o.price_per_mwh > cap for o in ins)
