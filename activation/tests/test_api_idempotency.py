"""Every activation POST that creates something takes an ``Idempotency-Key``: the same key and body return the
first response and create nothing more; the same key with another body is refused (409) and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from activation.models import Cascade, DREvent, EmergencyStop, GridSignal, OptOut, TriggerRule, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "/api/v1/activation"


def _times(minutes=60, hours=1):
    start = (timezone.now() + timedelta(minutes=minutes)).replace(microsecond=0)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def _replayed(client, url, body, model, *, key, other=None):
    """POST twice with one key: one object, the same answer; a different body under the key: 409, nothing."""
    r1 = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert r1.status_code == 201, r1.json()
    n = model.objects.count()
    assert n >= 1
    r2 = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (r2.status_code, r2.json()) == (201, r1.json())
    assert model.objects.count() == n
    if other is not None:
        r3 = client.post(url, other, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert r3.status_code == 409 and r3.json()["code"] == "idempotency_key_reused"
        assert model.objects.count() == n
    return r1.json()


def test_operator_posts_are_idempotent(act_world, api_for):
    w = act_world
    operator = api_for("operator@demo.flex")
    w.program.notice_minutes = 0
    w.program.save()
    start, end = _times()
    event = {"program": "peak-saver", "premise": w.premises[0].pk, "target_kw": "2", "start": start, "end": end}
    created = _replayed(operator, f"{URL}/events/", event, DREvent, key="ev-1", other={**event, "target_kw": "1"})
    assert DREvent.objects.get().pk == created["id"]

    start2, end2 = _times(minutes=2)
    emergency = {"program": "emergency-east", "zone": "sub-east-2", "start": start2, "end": end2}
    before = DREvent.objects.count()
    events = _replayed(
        operator, f"{URL}/emergency-events/", emergency, DREvent, key="em-1", other={**emergency, "zone": "sub-east-1"}
    )
    assert DREvent.objects.count() == before + len(events)

    cascade = {"program": "peak-saver", "zone": "sub-east-1", "target_kw": "20", "start": start2, "end": end2}
    _replayed(operator, f"{URL}/cascades/", cascade, Cascade, key="ca-1", other={**cascade, "target_kw": "30"})
    assert Cascade.objects.count() == 1

    rule = {"zone": "sub-east-1", "program": "peak-saver", "kind": "price", "threshold": "300", "target_kw": "10"}
    body = _replayed(operator, f"{URL}/trigger-rules/", rule, TriggerRule, key="tr-1", other={**rule, "threshold": "1"})
    assert TriggerRule.objects.get().threshold == 300 and body["kind"] == "price"
    assert [r["id"] for r in operator.get(f"{URL}/trigger-rules/").json()["results"]] == [body["id"]]
    # Without a key, a second POST is a second rule (the key is what makes the retry safe).
    assert operator.post(f"{URL}/trigger-rules/", rule, format="json").status_code == 201
    assert TriggerRule.objects.count() == 2
    assert api_for("aggregator@demo.flex").post(f"{URL}/trigger-rules/", rule, format="json").status_code == 403
    assert operator.post(f"{URL}/trigger-rules/", {**rule, "target_kw": "-1"}, format="json").status_code == 400

    signal = {"zone": "sub-east-1", "kind": "frequency", "at": start, "value": "59.95"}
    _replayed(operator, f"{URL}/grid-signals/", signal, GridSignal, key="gs-1", other={**signal, "value": "59.9"})
    assert GridSignal.objects.count() == 1

    stop = {"reason": "frequency excursion"}
    _replayed(operator, f"{URL}/emergency-stop/", stop, EmergencyStop, key="es-1", other={"reason": "other"})
    assert EmergencyStop.objects.count() == 1


def test_opt_out_and_webhook_endpoint_posts_are_idempotent(act_world, api_for):
    w = act_world
    start, end = _times()
    r = api_for("operator@demo.flex").post(
        f"{URL}/events/",
        {"program": "peak-saver", "premise": w.premises[0].pk, "target_kw": "2", "start": start, "end": end},
        format="json",
    )
    consumer = api_for("consumer01@demo.flex")
    _replayed(consumer, f"{URL}/events/{r.json()['id']}/opt-out/", {}, OptOut, key="oo-1", other={"note": "x"})
    assert OptOut.objects.count() == 1

    aggregator = api_for("aggregator@demo.flex")
    hook = {"url": "https://agg.example/hooks", "secret": "a-long-enough-secret"}
    body = _replayed(
        aggregator,
        f"{URL}/webhook-endpoints/",
        hook,
        WebhookEndpoint,
        key="wh-1",
        other={**hook, "url": "https://agg.example/other"},
    )
    assert "secret" not in body and WebhookEndpoint.objects.get().organisation == w.world.aggregator
    assert [e["url"] for e in aggregator.get(f"{URL}/webhook-endpoints/").json()["results"]] == [hook["url"]]
    assert aggregator.post(f"{URL}/webhook-endpoints/", {**hook, "secret": "short"}, format="json").status_code == 400
    assert consumer.post(f"{URL}/webhook-endpoints/", hook, format="json").status_code == 403
