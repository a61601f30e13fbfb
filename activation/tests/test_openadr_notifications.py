"""OpenADR 3 subscriptions: every create, update and delete of programs, events, reports, subscriptions, VENs and
resources notifies the subscriptions that asked for it, through the outbox (nothing leaves in the request), to a
real HTTP callback with the subscription's bearer token; a VEN hears only of what it may read."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from activation import openadr_services as oadr
from activation import services
from activation.models import OutboxMessage

from .oadr_schema import valid
from .test_openadr_crud import BASE, _event_body, _report

pytestmark = pytest.mark.django_db
ALL = ["PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"]


class Callbacks:
    def __init__(self, port: int = 0):
        self.received: list[tuple[str, str | None, dict]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((self.path, self.headers.get("Authorization"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self) -> set[tuple[str, str, str]]:
        return {(path, b["objectType"], b["operation"]) for path, _, b in self.received}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callbacks():
    cb = Callbacks()
    yield cb
    cb.close()


def _subscribe(client, program_id, url, token):
    r = client.post(
        f"{BASE}/subscriptions",
        {
            "clientName": token,
            "programID": str(program_id),
            "objectOperations": [
                {"objects": ALL, "operations": ["CREATE", "UPDATE", "DELETE"], "callbackUrl": url, "bearerToken": token}
            ],
        },
        format="json",
    )
    assert r.status_code == 201
    return r.json()


def test_every_operation_notifies_through_the_outbox(two_vens, callbacks):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    cb = callbacks.url
    pid = w.program.pk
    _subscribe(bl, pid, f"{cb}/bl", "bl-token")
    sub_a = _subscribe(a, pid, f"{cb}/a", "a-token")
    _subscribe(b, pid, f"{cb}/b", "b-token")
    services.outbox_flush(now=timezone.now())
    assert callbacks.seen() == {
        # the BL hears of every subscription; each VEN of its own
        ("/bl", "SUBSCRIPTION", "POST"),
        ("/a", "SUBSCRIPTION", "POST"),
        ("/b", "SUBSCRIPTION", "POST"),
    }
    callbacks.received.clear()

    mine = events[0]
    assert bl.put(f"{BASE}/programs/{pid}", {"programName": "peak-saver-2"}, format="json").status_code == 200
    assert bl.put(f"{BASE}/events/{mine.pk}", _event_body(mine, kw="-1"), format="json").status_code == 200
    report = a.post(f"{BASE}/reports", _report(mine, "ven-a-site"), format="json").json()
    assert a.put(f"{BASE}/reports/{report['id']}", _report(mine, "ven-a-site", 0.3), format="json").status_code == 200
    res = a.post(f"{BASE}/vens/{ven_a.pk}/resources", {"resourceName": "ev-charger"}, format="json").json()
    assert (
        a.put(f"{BASE}/vens/{ven_a.pk}/resources/{res['id']}", {"resourceName": "ev-2"}, format="json").status_code
        == 200
    )
    assert a.delete(f"{BASE}/vens/{ven_a.pk}/resources/{res['id']}").status_code == 200
    assert a.put(f"{BASE}/vens/{ven_a.pk}", {"venName": "ven-a-renamed"}, format="json").status_code == 200
    assert a.delete(f"{BASE}/reports/{report['id']}").status_code == 200
    assert (
        a.put(
            f"{BASE}/subscriptions/{sub_a['id']}", {**_sub_body(sub_a), "clientName": "a2"}, format="json"
        ).status_code
        == 200
    )

    # Nothing left in the requests: the notifications wait in the outbox.
    assert callbacks.received == []
    pending = OutboxMessage.objects.filter(
        channel=OutboxMessage.Channel.WEBHOOK,
        status=OutboxMessage.Status.PENDING,
        destination__startswith="subscription-",
    )
    assert pending.filter(event__isnull=True).exists()
    services.outbox_flush(now=timezone.now())
    expected = {("/bl", "PROGRAM", "PUT"), ("/a", "PROGRAM", "PUT"), ("/b", "PROGRAM", "PUT")}
    for path in ("/bl", "/a"):  # VEN B hears nothing of VEN A's event and objects
        expected |= {
            (path, "EVENT", "PUT"),
            (path, "REPORT", "POST"),
            (path, "REPORT", "PUT"),
            (path, "REPORT", "DELETE"),
            (path, "RESOURCE", "POST"),
            (path, "RESOURCE", "PUT"),
            (path, "RESOURCE", "DELETE"),
            (path, "VEN", "PUT"),
            (path, "SUBSCRIPTION", "PUT"),
        }
    assert callbacks.seen() == expected
    assert len(callbacks.received) == len(expected)  # each once
    for path, auth, body in callbacks.received:
        valid(body, "notification")
        assert auth == {"/bl": "Bearer bl-token", "/a": "Bearer a-token", "/b": "Bearer b-token"}[path]
        assert "bearerToken" not in body and "message_id" not in body
    event_note = next(b for p, _, b in callbacks.received if p == "/a" and b["objectType"] == "EVENT")
    assert event_note["object"]["intervals"][0]["payloads"][0]["values"] == [-1.0]
    assert not pending.exists()
    callbacks.received.clear()

    # Deleting an event, a VEN client's self-registration, deleting a subscription.
    assert bl.delete(f"{BASE}/events/{mine.pk}").status_code == 200
    client, secret = oadr.ven_client_create(organisation=w.world.aggregator)
    tok, _ = oadr.ven_token_issue(client_id=client.client_id, client_secret=secret)
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {tok}")
    assert c.post(f"{BASE}/vens", {"venName": "ven-c"}, format="json").status_code == 201
    assert a.delete(f"{BASE}/subscriptions/{sub_a['id']}").status_code == 200
    assert bl.post(f"{BASE}/programs", {"programName": "winter-peak"}, format="json").status_code == 201
    services.outbox_flush(now=timezone.now())
    assert callbacks.seen() == {
        # a new program: every subscription that asked for PROGRAM CREATE
        ("/bl", "PROGRAM", "POST"),
        ("/b", "PROGRAM", "POST"),
        ("/bl", "EVENT", "DELETE"),
        ("/a", "EVENT", "DELETE"),
        ("/bl", "VEN", "POST"),
        ("/bl", "SUBSCRIPTION", "DELETE"),
    }


def _sub_body(sub: dict) -> dict:
    return {k: sub[k] for k in ("clientName", "programID", "objectOperations")}


def test_a_callback_that_is_down_gets_the_notification_when_it_returns(two_vens):
    w, a, ven_a, *_ = two_vens
    with socket.socket() as s:  # a free port, nothing listening yet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _subscribe(a, w.program.pk, f"http://127.0.0.1:{port}/cb", "tok")
    assert a.put(f"{BASE}/vens/{ven_a.pk}", {"venName": "ven-a2"}, format="json").status_code == 200
    now = timezone.now()
    services.outbox_flush(now=now)
    notes = OutboxMessage.objects.filter(destination__startswith="subscription-")
    assert notes.count() == 2  # its SUBSCRIPTION POST and VEN PUT
    assert all(n.status == OutboxMessage.Status.PENDING and n.attempts == 1 for n in notes)
    row = OutboxMessage.objects.get(destination__contains="-UPDATE-")
    assert row.status == OutboxMessage.Status.PENDING and row.attempts == 1 and row.last_error
    cb = Callbacks(port)
    try:
        services.outbox_flush(now=now + timedelta(minutes=10))
        assert sorted((b["objectType"], b["operation"]) for _, _, b in cb.received) == [
            ("SUBSCRIPTION", "POST"),
            ("VEN", "PUT"),
        ]
        services.outbox_flush(now=now + timedelta(minutes=20))
        assert len(cb.received) == 2  # never twice
    finally:
        cb.close()
