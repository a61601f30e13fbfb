"""A participant's resting orders and offers are withdrawn when its participation ends: accounts sends
``accounts.signals.participation_ended`` once the change commits, and the market's receiver (connected in
``MarketConfig.ready()``) cancels them. Run through the accounts services, with the commit callbacks executed as
production runs them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from accounts.consents import consent_revoke
from accounts.kyc.services import verification_cases_expire
from accounts.models import Consent, Membership, VerificationCase
from accounts.signals import ParticipationEnded, participation_ended
from market.models import MarketOrder, OrderMember
from market.services.orders import order_submit

from .factories import DAY

S = DAY + timedelta(hours=17)
E = S + timedelta(minutes=15)


def _congestion_sell(mw, org, premise, kw="10"):
    """A resting sell order in the locational market (1 kW minimum), in the premise's own feeder."""
    return order_submit(
        organisation=org,
        market="real_time",
        product="congestion",
        side="sell",
        zone=premise.grid_zone,
        members=[(premise, Decimal(kw))],
        price_per_mwh=Decimal("100"),
        delivery_start=S,
        delivery_end=E,
        now=mw.now,
    ).order


def _owner(premise):
    return Membership.objects.filter(organisation=premise.organisation).select_related("user").first().user


def _status(order) -> str:
    order.refresh_from_db()
    return order.status


def test_a_revoked_consent_withdraws_the_premise_s_resting_orders_once_committed(
    mw, django_capture_on_commit_callbacks
):
    p1, p2 = mw.premise(1), mw.premise(2)  # both households via the aggregator
    on_p1, on_p2 = _congestion_sell(mw, mw.aggregator, p1), _congestion_sell(mw, mw.aggregator, p2)
    consent = Consent.objects.get(premise=p1, aggregator=mw.aggregator, status=Consent.Status.ACTIVE)
    sent = []
    participation_ended.connect(lambda sender, **kw: sent.append(kw), weak=False, dispatch_uid="test-sent")
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            consent_revoke(consent=consent, by=_owner(p1), reason="Moving out.")
            assert _status(on_p1) == MarketOrder.Status.OPEN  # nothing happens before the commit
    finally:
        participation_ended.disconnect(dispatch_uid="test-sent")
    assert callbacks
    assert sent == [
        {
            "signal": participation_ended,
            "organisation_id": mw.aggregator.pk,
            "premise_ids": [p1.pk],
            "reason": ParticipationEnded.CONSENT_REVOKED,
        }
    ]
    assert _status(on_p1) == MarketOrder.Status.CANCELLED
    assert set(OrderMember.objects.filter(order=on_p1).values_list("remaining_kw", flat=True)) == {Decimal("0")}
    assert _status(on_p2) == MarketOrder.Status.OPEN  # another premise's order stays


def test_a_lapsed_verification_suspends_trading_and_withdraws_every_resting_order(
    mw, django_capture_on_commit_callbacks
):
    household = mw.premise(0)  # sells directly
    seller = household.organisation
    order = _congestion_sell(mw, seller, household)
    case = VerificationCase.objects.filter(organisation=seller, status=VerificationCase.Status.VERIFIED).get()
    with django_capture_on_commit_callbacks(execute=True):
        assert verification_cases_expire(now=case.verified_until + timedelta(seconds=1)) >= 1
    assert _status(order) == MarketOrder.Status.CANCELLED
    # Idempotent: a second notice finds nothing left to withdraw.
    participation_ended.send(
        sender=ParticipationEnded,
        organisation_id=seller.pk,
        premise_ids=None,
        reason=ParticipationEnded.SUSPENDED,
    )
    assert _status(order) == MarketOrder.Status.CANCELLED


def test_a_suspension_sent_by_a_higher_layer_withdraws_the_named_premises_only(mw):
    """The signal is the one path: a layer above accounts (e.g. activation suspending a resource for repeated
    non-performance) sends it with the premises concerned."""
    p1, p2 = mw.premise(1), mw.premise(2)
    on_p1, on_p2 = _congestion_sell(mw, mw.aggregator, p1), _congestion_sell(mw, mw.aggregator, p2)
    participation_ended.send(
        sender=ParticipationEnded,
        organisation_id=mw.aggregator.pk,
        premise_ids=[p2.pk],
        reason=ParticipationEnded.SUSPENDED,
    )
    assert _status(on_p2) == MarketOrder.Status.CANCELLED
    assert _status(on_p1) == MarketOrder.Status.OPEN
