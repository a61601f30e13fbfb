"""Callback URLs (activation webhooks, OpenADR subscriptions' callbackUrl) never reach the platform's own network
(``flexplatform.core.egress``): refused at registration, checked again when connecting, no redirects followed;
hosts named in ``CALLBACK_ALLOWED_HOSTS`` are allowed (the tests' receivers)."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from activation import services
from activation.models import OadrSubscription, OutboxMessage, WebhookEndpoint
from flexplatform.core import egress

from .test_openadr_crud import BASE, _sub

pytestmark = pytest.mark.django_db
REFUSED_URLS = [
    "http://127.0.0.1:5432/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:6379/",
    "http://10.0.0.7/hook",
    "http://[::1]:8000/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0:80/",
    "gopher://127.0.0.1:6379/_INFO",
]


class Listener:
    """A plain TCP listener on loopback that records every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class Server:
    """An HTTP receiver on loopback; answers every POST with ``status`` (and ``location`` when given)."""

    def __init__(self, status=200, location=None):
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.hits.append(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_webhook_registration_refuses_internal_addresses(act_world, api_for, settings):
    settings.CALLBACK_ALLOWED_HOSTS = []
    client = api_for("aggregator@demo.flex")
    for url in REFUSED_URLS:
        r = client.post("/api/v1/activation/webhook-endpoints/", {"url": url, "secret": "s" * 20}, format="json")
        assert r.status_code == 400 and "url" in r.json()["fields"], (url, r.content)
    assert not WebhookEndpoint.objects.exists()


def test_openadr_subscription_refuses_internal_callback_urls(two_vens, settings):
    settings.CALLBACK_ALLOWED_HOSTS = []
    w, a, *_ = two_vens
    before = OadrSubscription.objects.count()
    for url in ("http://127.0.0.1:9/cb", "http://169.254.169.254/cb", "http://localhost:6379/cb"):
        r = a.post(f"{BASE}/subscriptions", _sub(w.program.pk, url=url), format="json")
        assert r.status_code == 400, (url, r.content)
    assert OadrSubscription.objects.count() == before


def test_nothing_is_sent_to_a_refused_address(settings):
    settings.CALLBACK_ALLOWED_HOSTS = []
    listener = Listener()
    try:
        for url in (f"http://127.0.0.1:{listener.port}/", f"http://localhost:{listener.port}/"):
            with pytest.raises(egress.EgressRefused):
                egress.post(url, json={"x": 1}, timeout=2)
        with pytest.raises(egress.EgressRefused):
            egress.post("http://169.254.169.254/latest/meta-data/", json={}, timeout=2)
    finally:
        listener.close()
    assert listener.accepted == 0


def test_the_address_is_checked_again_at_send_time(act_world, settings):
    """Registered while allowed, refused when sending (a name that now resolves to loopback is the same case)."""
    settings.MQTT_PORT = 1
    w = act_world
    receiver = Server()
    try:
        services.webhook_endpoint_create(organisation=w.world.aggregator, url=receiver.url, secret="s" * 20)
        settings.CALLBACK_ALLOWED_HOSTS = []
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
        hook = OutboxMessage.objects.get(event=event, channel=OutboxMessage.Channel.WEBHOOK)
        assert hook.status != OutboxMessage.Status.ACKNOWLEDGED and "refused" in hook.last_error
    finally:
        receiver.close()
    assert receiver.hits == []


def test_redirects_are_not_followed(settings):
    target = Server()
    redirector = Server(status=307, location=target.url)
    try:
        response = egress.post(redirector.url, json={"x": 1}, timeout=5)
        assert response.status_code == 307
    finally:
        redirector.close()
        target.close()
    assert redirector.hits == ["/hook"] and target.hits == []


def test_allow_list_entries(settings):
    settings.CALLBACK_ALLOWED_HOSTS = ["10.1.0.0/16", "hooks.internal:8443", ".example"]
    egress.url_check("https://10.1.2.3/x")  # in the named network
    egress.url_check("https://hooks.internal:8443/x")  # the named host and port
    egress.url_check("https://agg.example/x")  # a subdomain of a named domain
    with pytest.raises(egress.EgressRefused):
        egress.url_check("https://10.2.0.1/x")  # outside the named network
    # The named host on another port is not allowed by the entry: a name that does not resolve here is accepted at
    # registration and refused when a send resolves it (nothing is ever sent to an unchecked address).
    egress.url_check("http://hooks.internal:80/x")
    with pytest.raises(egress.EgressRefused):
        egress.post("http://hooks.internal:80/x", json={}, timeout=2)
    assert egress.address_is_public(__import__("ipaddress").ip_address("93.184.215.14"))
