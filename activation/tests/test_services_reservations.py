"""Reservations: capacity and ancillary awards held for their buyer, called into events by the operator of the
zone (through the services and the REST API), every refusal leaving nothing behind."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from accounts import services as accounts_services
from accounts.models import GridZone, Organisation
from activation import services
from activation.models import DREvent, Reservation
from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from market.models import Award, ClearingRun

pytestmark = pytest.mark.django_db
URL = "/api/v1/activation/reservations"


def _award(w, premise, *, product="spinning_reserve", kw="150", price="12.50", hours=4, lead_minutes=60):
    """What the market stores for one member of a cleared ancillary order (the auction's per-member award)."""
    start = w.now + timedelta(minutes=lead_minutes)
    run = ClearingRun.objects.create(
        rule_version="t", awarded_kw=D(kw), inputs={}, outputs={}, cleared_at=w.now - timedelta(hours=12)
    )
    return Award.objects.create(
        clearing_run=run,
        premise=premise,
        seller=premise.organisation,
        buyer=w.world.operator,
        market="day_ahead",
        product=product,
        kw=D(kw),
        clearing_price_per_mwh=D(price),
        window_start=start,
        window_end=start + timedelta(hours=hours),
    )


def _operator(name, zone_code, email):
    org = accounts_services.organisation_create(
        name=name, kind=Organisation.Kind.GRID_OPERATOR, service_zones=[GridZone.objects.get(code=zone_code)]
    )
    accounts_services.user_create(email=email, password="x-pass-123", organisation=org)
    return org


def test_ancillary_award_becomes_one_reservation_with_its_prices_and_notice(act_world):
    w = act_world
    award = _award(w, w.premises[5])
    r = services.award_activate(award_id=award.pk, now=w.now)
    assert isinstance(r, Reservation) and not DREvent.objects.exists()
    assert (r.premise, r.zone, r.buyer, r.seller) == (
        w.premises[5],
        w.premises[5].grid_zone,
        w.world.operator,
        w.premises[5].organisation,
    )
    assert (r.reserved_kw, r.availability_price_per_mwh) == (D("150.000"), D("12.50"))
    assert r.energy_price_per_mwh == services.market_program().energy_rate_per_mwh == D("100.00")
    assert r.notice_minutes == 10  # spinning reserve: deployed within 10 minutes (PJM Manual 11)
    assert services.award_activate(award_id=award.pk, now=w.now).pk == r.pk
    assert services.awards_activate_pending(now=w.now) == [] and Reservation.objects.count() == 1
    freq = services.award_activate(award_id=_award(w, w.premises[3], product="frequency_response").pk)
    cap = services.award_activate(award_id=_award(w, w.premises[4], product="capacity").pk)
    assert (freq.notice_minutes, cap.notice_minutes) == (1, 30)


def test_operator_calls_within_the_reservation_and_every_refusal_changes_nothing(act_world):
    w = act_world
    r = services.award_activate(award_id=_award(w, w.premises[5]).pk)
    operator = w.user("operator@demo.flex")
    start = r.window_start + timedelta(minutes=30)

    def call(user=operator, kw="100", s=start, minutes=60, now=w.now):
        return services.reservation_call(
            reservation_id=r.pk, user=user, target_kw=D(kw), start=s, end=s + timedelta(minutes=minutes), now=now
        )

    event = call()
    assert (event.source, event.reservation_id, event.status) == ("reservation", r.pk, DREvent.Status.NOTIFIED)
    assert (event.target_kw, event.price_per_mwh, event.buyer) == (D("100"), D("100.00"), w.world.operator)
    assert event.outbox.exists()  # dispatched to the resource's devices
    # 150 kW reserved, 100 called for 30-90 min: 60 more overlapping is refused, 50 fits
    with pytest.raises(ApplicationError) as e:
        call(kw="60", s=start + timedelta(minutes=30))
    assert e.value.code == "above_reserved"
    with pytest.raises(ApplicationError) as e:  # outside the reservation's window
        call(kw="10", s=r.window_end - timedelta(minutes=30))
    assert "start" in e.value.fields
    with pytest.raises(ApplicationError) as e:  # 5 minutes' notice, the reservation needs 10
        call(kw="10", s=r.window_start, now=r.window_start - timedelta(minutes=5))
    assert e.value.code == "notice_too_short"
    with pytest.raises(NotPermitted):
        call(user=w.user("consumer06@demo.flex"), kw="10")
    _operator("West DSO", "sub-east-2", "west@t.flex")  # does not serve the premise's zone
    with pytest.raises(NotPermitted):
        call(user=w.user("west@t.flex"), kw="10")
    _operator("Other East DSO", w.premises[5].grid_zone.parent.code, "east2@t.flex")  # serves it, did not buy
    with pytest.raises(NotPermitted):
        call(user=w.user("east2@t.flex"), kw="10")
    with pytest.raises(Conflict) as e:  # the same call again is refused, not doubled
        call(kw="10")
    assert e.value.code == "already_called"
    services.emergency_stop_engage(user=operator, reason="test")
    with pytest.raises(Conflict):
        call(kw="10", s=start + timedelta(minutes=120))
    assert list(DREvent.objects.values_list("pk", flat=True)) == [event.pk]
    services.emergency_stop_lift(user=w.user("admin@demo.flex"))
    second = call(kw="50", s=start + timedelta(minutes=30))
    assert second.target_kw == D("50") and DREvent.objects.filter(reservation=r).count() == 2
    # A call is revised only through the reservation's own rules, never as a plain OpenADR event update
    # (that would let 150 kW run past the window on top of the first call).
    from activation import openadr_services

    with pytest.raises(Conflict):
        openadr_services.oadr_event_update(
            event_id=second.pk, target_kw=D("150"), start=second.start, end=r.window_end + timedelta(hours=1), now=w.now
        )
    second.refresh_from_db()
    assert (second.target_kw, second.end) == (D("50"), start + timedelta(minutes=90))


def test_reservation_api_lists_by_zone_and_calls_with_idempotency_key(act_world, api_for):
    w = act_world
    r = services.award_activate(award_id=_award(w, w.premises[5]).pk)
    _operator("West DSO", "sub-east-2", "west@t.flex")
    op = api_for("operator@demo.flex")
    assert [x["id"] for x in op.get(f"{URL}/").json()["results"]] == [r.pk]
    row = op.get(f"{URL}/?active=1").json()["results"][0]
    assert (row["reserved_kw"], row["availability_price_per_mwh"], row["calls"]) == ("150.000", "12.50", 0)
    assert api_for("west@t.flex").get(f"{URL}/").json()["results"] == []
    assert [x["id"] for x in api_for("consumer06@demo.flex").get(f"{URL}/").json()["results"]] == [r.pk]
    assert api_for("consumer01@demo.flex").get(f"{URL}/").json()["results"] == []
    start = r.window_start + timedelta(minutes=15)
    body = {"target_kw": "40", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    assert api_for("consumer06@demo.flex").post(f"{URL}/{r.pk}/call/", body, format="json").status_code == 403
    assert api_for("west@t.flex").post(f"{URL}/{r.pk}/call/", body, format="json").status_code == 404
    bad = op.post(f"{URL}/{r.pk}/call/", {**body, "target_kw": "x", "start": "2031-06-10T14:00:00"}, format="json")
    assert bad.status_code == 400 and {"target_kw", "start"} <= set(bad.json()["fields"])
    over = op.post(f"{URL}/{r.pk}/call/", {**body, "target_kw": "151"}, format="json")
    assert over.status_code == 400 and over.json()["code"] == "above_reserved"
    assert not DREvent.objects.exists()
    first = op.post(f"{URL}/{r.pk}/call/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-1")
    assert first.status_code == 201, first.json()
    assert (first.json()["reservation"], first.json()["price_per_mwh"], first.json()["source"]) == (
        r.pk,
        "100.00",
        "reservation",
    )
    again = op.post(f"{URL}/{r.pk}/call/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-1")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    reused = op.post(f"{URL}/{r.pk}/call/", {**body, "target_kw": "10"}, format="json", HTTP_IDEMPOTENCY_KEY="call-1")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert DREvent.objects.filter(reservation=r).count() == 1
    assert op.get(f"{URL}/").json()["results"][0]["calls"] == 1


def test_reservations_show_on_the_aggregator_dashboard_and_the_consumer_portal(act_world):
    from django.test import Client

    w = act_world
    p1 = w.premises[1]  # a household enrolled with the aggregator
    r = services.award_activate(award_id=_award(w, p1, kw="3").pk)
    c = Client()
    c.force_login(w.user("aggregator@demo.flex"))
    dash = c.get("/aggregator/")
    assert dash.status_code == 200 and [x.pk for x in dash.context["reservations"]] == [r.pk]
    assert b'data-testid="reservations"' in dash.content and b"spinning_reserve" in dash.content
    owner = p1.organisation.memberships.first().user
    c.force_login(owner)
    portal = c.get("/consumer/")
    assert portal.status_code == 200 and [x.pk for x in portal.context["reservations"]] == [r.pk]
    assert b"12.50" in portal.content
    c.force_login(w.user("consumer01@demo.flex"))  # another household: not theirs
    assert c.get("/consumer/").context["reservations"] == []


def test_reservation_list_queries_do_not_grow_with_rows(act_world, api_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w = act_world
    op = api_for("operator@demo.flex")
    services.award_activate(award_id=_award(w, w.premises[5]).pk)
    op.get(f"{URL}/")  # the user's memberships are cached after the first request
    with CaptureQueriesContext(connection) as one:
        assert len(op.get(f"{URL}/").json()["results"]) == 1
    for p in w.premises[2:5]:
        services.award_activate(award_id=_award(w, p, kw="5").pk)
    with CaptureQueriesContext(connection) as four:
        assert len(op.get(f"{URL}/").json()["results"]) == 4
    assert len(four.captured_queries) == len(one.captured_queries)
