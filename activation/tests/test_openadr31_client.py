"""End to end with an independently written OpenADR 3 client: ``python-oa3-client`` 0.5.0 (PyPI; on ``openadr3``
0.5.0), in its own venv (``make oa3client``: ``.venv-oa3client``, pins in ``requirements-oa3client.txt``), drives
``activation/tests/oa3_client/ven_e2e.py`` against a live server (pytest-django ``live_server``) and the MQTT
broker: it logs in with its default OAuth 2 flow (``/auth/server`` discovery, client credentials), registers
its VEN and a resource, reads the programs as its typed models, subscribes to the program's events on the
topics the VTN lists, receives the notification of an event the platform dispatches, reads the events as typed
models and posts a report, which the platform stores for verification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone

from activation import openadr_services as oadr
from activation import services
from activation.models import OadrReport, Ven

ROOT = Path(__file__).resolve().parents[2]
CLIENT_PYTHON = Path(os.environ.get("OA3_CLIENT_PYTHON", ROOT / ".venv-oa3client" / "bin" / "python"))
SCRIPT = Path(__file__).resolve().parent / "oa3_client" / "ven_e2e.py"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mqtt]


def _lines(proc, until: str, timeout: float) -> list[dict]:
    """JSON lines the client prints, up to and including step ``until`` (or its exit)."""
    import selectors

    seen: list[dict] = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = timezone.now() + timedelta(seconds=timeout)
    while timezone.now() < deadline:
        if not sel.select(timeout=0.5):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if seen[-1]["step"] == until:
            break
    return seen


@override_settings(OPENADR_MQTT_NOTIFIER=True)
def test_independent_client_logs_in_registers_reads_reports_and_is_notified(act_world, live_server):
    if not CLIENT_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CLIENT_PYTHON} is missing: `make oa3client` creates it")
        pytest.skip(f"the independent client's venv {CLIENT_PYTHON} is missing: run `make oa3client`")
    w = act_world
    premise = w.premises[1]
    oadr.ven_client_create(organisation=w.world.aggregator, client_id="oa3-client", client_secret="oa3-s3cret-s3cret")
    # The server's first request imports every view; the client's HTTP timeout (5 s) is not meant for that.
    with urllib.request.urlopen(f"{live_server.url}/openadr3/3.1.0/auth/server", timeout=120) as r:  # noqa: S310
        assert r.status == 200
    proc = subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
        [
            str(CLIENT_PYTHON),
            str(SCRIPT),
            f"{live_server.url}/openadr3/3.1.0",
            "oa3-client",
            "oa3-s3cret-s3cret",
            w.program.code,
            str(premise.pk),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        steps = _lines(proc, "READY", timeout=60)
        assert steps and steps[-1]["step"] == "READY", (steps, proc.stderr.read() if proc.poll() is not None else "")
        by_step = {s["step"]: s for s in steps}
        assert by_step["token"]["token"] is True
        ven = Ven.objects.get(ven_name="oa3-client-ven")
        assert by_step["registered"]["ven_id"] == str(ven.pk) and ven.client.client_id == "oa3-client"
        assert w.program.code in by_step["programs"]["names"]
        assert by_step["READY"]["topics"] and all(f"/vens/{ven.pk}/" in t for t in by_step["READY"]["topics"])
        # The platform dispatches an event for the VEN's premise; the outbox publishes its notification.
        now = timezone.now()
        noon = (now.astimezone(ZoneInfo(premise.timezone)) + timedelta(days=1)).replace(
            hour=12, minute=0, second=0, microsecond=0
        )
        event = services.event_create(
            program=w.program,
            premise=premise,
            target_kw=Decimal("2"),
            start=noon,
            end=noon + timedelta(hours=1),
            now=now,
        )
        assert services.outbox_flush()["failed"] == 0
        steps += _lines(proc, "reported", timeout=60)
        proc.wait(timeout=30)
        by_step = {s["step"]: s for s in steps}
        assert proc.returncode == 0, (steps, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
    notified = by_step["notified"]
    assert (notified["object_type"], notified["operation"], notified["id"]) == ("EVENT", "CREATE", str(event.pk))
    assert str(event.pk) in by_step["events"]["ids"] and by_step["events"]["intervals"] == 1
    assert f"premise-{premise.pk}" in by_step["events"]["targets"]
    report = OadrReport.objects.get(pk=int(by_step["reported"]["id"]))
    assert (report.event_id, report.ven_id, report.program_id) == (event.pk, ven.pk, w.program.pk)
    assert by_step["reported"]["client_id"] == "oa3-client"
    assert sys.executable != str(CLIENT_PYTHON)  # the client ran in its own interpreter, not the platform's
