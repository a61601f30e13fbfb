"""The OpenADR 3 spec module: bodies validated against the spec's schemas (naming the field), ISO 8601
durations as the spec's pattern admits them (weeks, zero, calendar months), targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activation import openadr_spec as spec


def test_a_body_that_fails_names_the_field():
    body = {"programID": "1", "intervals": [{"id": 0, "payloads": [{"type": "", "values": [1]}]}]}
    with pytest.raises(spec.SpecError) as err:
        spec.validate("3.0.1", "event", body)
    assert err.value.field == "intervals/0/payloads/0/type"
    with pytest.raises(spec.SpecError) as err:
        spec.validate("3.0.1", "event", {"programID": "1", "intervals": [], "intervalPeriod": {"start": "soon"}})
    assert err.value.field == "intervalPeriod/start"
    with pytest.raises(spec.SpecError) as err:
        spec.validate("3.0.1", "event", {"intervals": []})
    assert "programID" in err.value.message
    with pytest.raises(spec.SpecError):
        spec.validate("3.0.1", "report", {"programID": "1", "eventID": "2", "clientName": "v", "resources": None})
    with pytest.raises(LookupError):
        spec.schema("9.9.9", "event")


def test_every_payload_type_and_the_vtn_fields_dropped():
    body = {
        "id": "client-chosen",
        "objectType": "EVENT",
        "programID": "1",
        "intervalPeriod": {"start": "2031-06-10T12:00:00Z", "duration": "P1W", "randomizeStart": "PT0S"},
        "intervals": [
            {
                "id": 0,
                "payloads": [{"type": "PRICE", "values": [0.17]}, {"type": "CURVE", "values": [{"x": 1, "y": 2}]}],
            },
            {"id": 1, "payloads": [{"type": "X_PRIVATE", "values": ["a", True, 3]}]},
        ],
    }
    stored = spec.validate("3.0.1", "event", body)
    assert "id" not in stored and "objectType" not in stored
    assert stored["intervals"] == body["intervals"]
    assert spec.spec_object(stored, id="7", objectType="EVENT")["id"] == "7"


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("PT0S", timedelta(0)),
        ("P1W", timedelta(days=7)),
        ("P2D", timedelta(days=2)),
        ("PT1H30M", timedelta(minutes=90)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("P1DT12H", timedelta(hours=36)),
        ("-PT5M", timedelta(minutes=-5)),
    ],
)
def test_durations(text, length):
    assert spec.parse_duration(text).timedelta() == length


def test_calendar_durations_and_refusals():
    start = datetime(2031, 1, 31, tzinfo=UTC)
    assert spec.add_duration(start, "P1M") == datetime(2031, 2, 28, tzinfo=UTC)
    assert spec.add_duration(start, "P1Y") == datetime(2032, 1, 31, tzinfo=UTC)
    with pytest.raises(ValueError, match="fixed length"):
        spec.parse_duration("P1M").timedelta()
    for bad in ("P", "PT", "1H", "P1H", "PT1D", None, 3):
        with pytest.raises(ValueError):
            spec.parse_duration(bad)
    assert spec.format_duration(timedelta(0)) == "PT0S"
    assert spec.format_duration(timedelta(days=1, minutes=5)) == "P1DT5M"
    with pytest.raises(ValueError):
        spec.parse_datetime("2031-06-10T12:00:00")  # no offset


def test_targets_match():
    assert spec.maps_match(None, [{"type": "GROUP", "values": ["a"]}])
    assert spec.maps_match([{"type": "GROUP", "values": ["a", "b"]}], [{"type": "GROUP", "values": ["b"]}])
    assert not spec.maps_match([{"type": "GROUP", "values": ["a"]}], [{"type": "VEN_NAME", "values": ["a"]}])
    assert spec.values_of([{"type": "GROUP", "values": ["a"]}, {"type": "GROUP", "values": [2]}], "GROUP") == ["a", 2]


def test_durations_beyond_the_calendar_are_value_errors():
    with pytest.raises(ValueError):
        spec.parse_duration("P99999999999999D")
    with pytest.raises(ValueError):
        spec.add_duration(datetime(9999, 12, 1, tzinfo=UTC), "P1Y")
