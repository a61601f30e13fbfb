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


def test_consumption_page_shows_data_quality_over_the_imported_range_and_a_window(meter_world):
    """An imported history is judged on its own days (gaps, 25-hour day), beside the "validated now" verdict."""
    import io
    from pathlib import Path

    from accounts import services as acc
    from assessment.ingest.store import green_button_import

    feed = Path(__file__).parents[2] / "assessment/tests/data/green_button/oldstyle_hourly.xml"
    meter = acc.meter_create(premise=meter_world.alice_site, meter_id="A-HOURLY", interval_minutes=60)
    green_button_import(user=meter_world.users["alice"], meter=meter, stream=io.BytesIO(feed.read_bytes()))
    alice = _client(meter_world.users["alice"])
    html = alice.get("/consumer/consumption/?meter=A-HOURLY").content.decode()
    assert 'data-testid="completeness">96 %' in html  # 70 of 73 intervals
    assert "70 of 73 intervals · 1 gap" in html
    assert "1 Nov 2026 (25 hours, 25 of 25 intervals)" in html
    assert "2026-11-02T10:00:00-05:00" in html  # the gap, from 10:00 local
    assert "Not validated" in html  # the verdict over the recent past stays beside it
    one_day = alice.get("/consumer/consumption/?meter=A-HOURLY&first_day=2026-10-31&last_day=2026-10-31")
    assert "24 of 24 intervals · 0 gaps" in one_day.content.decode()
    wrong = alice.get("/consumer/consumption/?meter=A-HOURLY&first_day=2026-11-02&last_day=2026-10-31", follow=True)
    assert "last_day is before first_day" in wrong.content.decode() and "70 of 73 intervals" in wrong.content.decode()
