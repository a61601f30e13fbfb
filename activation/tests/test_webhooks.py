"""Signed webhooks to a real local HTTP receiver that verifies the signature; retries with backoff."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from activation import services
from activation.models import OutboxMessage
from activation.protocols.webhooks import sign, verify

pytestmark = pytest.mark.django_db
SECRET = "whsec-test-0123456789abcdef"


class Receiver:
    """An aggregator's endpoint: verifies each request, answers 503 for the first ``fail_first`` requests."""

    def __init__(self, fail_first=0):
        self.fail_first = fail_first
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(
                    secret=SECRET,
                    timestamp=self.headers.get("X-Flex-Timestamp"),
                    signature=self.headers.get("X-Flex-Signature"),
                    body=body,
                )
                receiver.requests.append(
                    {"valid": ok, "id": self.headers.get("X-Flex-Message-Id"), "body": json.loads(body)}
                )
                code = 401 if not ok else (503 if len(receiver.requests) <= receiver.fail_first else 200)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/flex"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_signature_verification_rules():
    body = b'{"a":1}'
    sig = sign(secret=SECRET, timestamp=1_800_000_000, body=body)
    assert verify(secret=SECRET, timestamp="1800000000", signature=sig, body=body, now=1_800_000_100)
    assert not verify(secret=SECRET, timestamp="1800000000", signature=sig, body=b'{"a":2}', now=1_800_000_100)
    assert not verify(
        secret="other-secret-xxxxxxxx", timestamp="1800000000", signature=sig, body=body, now=1_800_000_100
    )
    assert not verify(secret=SECRET, timestamp="1800000000", signature=sig, body=body, now=1_800_000_000 + 301)


def test_webhook_signed_and_retried_with_backoff_until_the_receiver_accepts(act_world, settings):
    settings.MQTT_PORT = 1  # only the webhook matters here: device commands stay pending
    w = act_world
    receiver = Receiver(fail_first=2)
    try:
        services.webhook_endpoint_create(organisation=w.world.aggregator, url=receiver.url, secret=SECRET)
        now = timezone.now()
        w.program.notice_minutes = 0
        w.program.save()
        event = services.event_create(
            program=w.program,
            premise=w.premises[1],
            target_kw=Decimal("2"),
            start=now,
            end=now + timedelta(hours=1),
            now=now,
        )  # premise 2 is the aggregator's
        hook = OutboxMessage.objects.get(event=event, channel=OutboxMessage.Channel.WEBHOOK)
        services.outbox_flush(now=now)
        hook.refresh_from_db()
        assert hook.status == OutboxMessage.Status.PENDING and hook.attempts == 1
        first_retry = hook.next_attempt_at - now
        services.outbox_flush(now=hook.next_attempt_at)
        hook.refresh_from_db()
        assert hook.attempts == 2 and (hook.next_attempt_at - now) > 2 * first_retry  # exponential backoff
        services.outbox_flush(now=hook.next_attempt_at)
        hook.refresh_from_db()
        assert hook.status == OutboxMessage.Status.ACKNOWLEDGED and hook.attempts == 3
        assert len(receiver.requests) == 3 and all(r["valid"] for r in receiver.requests)
        assert {r["id"] for r in receiver.requests} == {str(hook.message_id)}  # same id on retries: dedupe key
        assert receiver.requests[-1]["body"]["type"] == "event.notified"
        services.outbox_flush(now=hook.next_attempt_at + timedelta(hours=1))
        assert len(receiver.requests) == 3  # delivered once, never again
    finally:
        receiver.close()


def test_webhook_gives_up_after_max_attempts(act_world, settings):
    settings.MQTT_PORT = 1
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    w = act_world
    receiver = Receiver(fail_first=99)
    try:
        services.webhook_endpoint_create(organisation=w.world.aggregator, url=receiver.url, secret=SECRET)
        now = timezone.now()
        w.program.notice_minutes = 0
        w.program.save()
        event = services.event_create(
            program=w.program,
            premise=w.premises[1],
            target_kw=Decimal("2"),
            start=now,
            end=now + timedelta(hours=1),
            now=now,
        )
        services.outbox_flush(now=now)
        services.outbox_flush(now=now + timedelta(hours=1))
        hook = OutboxMessage.objects.get(event=event, channel=OutboxMessage.Channel.WEBHOOK)
        assert hook.status == OutboxMessage.Status.FAILED and hook.attempts == 2 and "503" in hook.last_error
    finally:
        receiver.close()
