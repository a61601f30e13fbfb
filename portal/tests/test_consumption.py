"""The consumer's consumption page: charts and figures for their own meters only."""

from __future__ import annotations

import json

from django.test import Client

from assessment.ingest.csvfile import parse_csv
from assessment.ingest.services import readings_import


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_consumption_page_shows_own_meter_only(meter_world):
    lines = [
        f"A-1,2026-01-05T{h:02d}:{m:02d}Z,{'2.0' if h == 22 else '0.5'}" for h in range(24) for m in (0, 15, 30, 45)
    ]
    readings_import(user=None, source="csv", parsed=parse_csv("meter_id,start,kwh\n" + "\n".join(lines)))
    page = _client(meter_world.users["alice"]).get("/consumer/consumption/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="peak">8.000 kW' in html  # 2 kWh in 15 minutes
    assert "Not validated" in html
    charts = json.loads(html.split('id="consumption-data" type="application/json">')[1].split("</script>")[0])
    assert charts["daily"]["kw"][17] == 8.0  # 22:00 UTC = 17:00 in New York
    assert charts["seasons"]["labels"] == ["winter"]

    # Bob asking for Alice's meter sees his own (empty) meter, never hers.
    bob = _client(meter_world.users["bob"]).get("/consumer/consumption/?meter=A-1").content.decode()
    assert "A-1" not in bob and "B-1" in bob and "No readings yet" in bob
    assert _client(meter_world.users["op"]).get("/consumer/consumption/").status_code == 403
