"""An OpenADR 3.1.0 VEN written with an independent client library (PyPI ``python-oa3-client`` on ``openadr3``),
run in its own venv by ``activation/tests/test_openadr31_client.py`` against a live VTN. Nothing of the platform is
imported here.

Usage: ``ven_e2e.py BASE_URL CLIENT_ID CLIENT_SECRET PROGRAM_NAME PREMISE_ID``. Steps, each printed as one JSON line:
log in with the library's default OAuth 2 flow (``/auth/server`` discovery, client credentials), register the VEN
and its resource, read the programs as typed models, subscribe to the program's events over MQTT (the topics the
VTN lists), print ``READY``; then wait for the event notification, read the events as typed models and post a
report for the notified event.
"""

from __future__ import annotations

import json
import sys

from openadr3.entities.models import Event, Notification, Program, Report
from openadr3_client import VenClient


def say(step: str, **data) -> None:
    print(json.dumps({"step": step, **data}), flush=True)  # noqa: T201


def main(base_url: str, client_id: str, client_secret: str, program_name: str, premise_id: str) -> int:
    with VenClient(url=base_url, client_id=client_id, client_secret=client_secret) as ven:
        say("token", token=bool(ven.token))
        ven.register("oa3-client-ven")
        say("registered", ven_id=ven.ven_id)
        resource = ven.create_resource(
            {
                "objectType": "VEN_RESOURCE_REQUEST",
                "resourceName": "oa3-site",
                "venID": ven.ven_id,
                "attributes": [{"type": "PREMISE_ID", "values": [int(premise_id)]}],
            }
        )
        resource.raise_for_status()
        programs = ven.programs()
        assert all(isinstance(p, Program) for p in programs)
        program = ven.find_program_by_name(program_name)
        say("programs", names=sorted(p.program_name for p in programs), program_id=program.id)
        uris = ven.get_mqtt_broker_uris()
        mqtt = ven.add_mqtt(uris[0], client_id=f"oa3-client-{ven.ven_id}")
        mqtt.start()
        topics = ven.subscribe(program_names=[program_name], objects=["EVENT"], operations=["CREATE"], channel=mqtt)
        say("READY", broker=uris[0], topics=topics)
        messages = mqtt.await_messages(1, timeout=30.0)
        if not messages:
            say("no-notification")
            return 1
        note = messages[0].payload
        assert isinstance(note, Notification), type(note)
        event_id = note.object.id
        say("notified", topic=messages[0].topic, object_type=note.object_type, operation=note.operation, id=event_id)
        events = ven.events(programID=program.id)
        assert all(isinstance(e, Event) for e in events)
        event = next(e for e in events if e.id == event_id)
        say("events", ids=[e.id for e in events], targets=event.targets, intervals=len(event.intervals or []))
        start = event.interval_period.start
        response = ven.create_report(
            {
                "eventID": event_id,
                "clientName": "oa3-client-ven",
                "reportName": "usage",
                "payloadDescriptors": [
                    {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "KWH"}
                ],
                "resources": [
                    {
                        "resourceName": "oa3-site",
                        "intervalPeriod": {"start": start.isoformat(), "duration": "PT1H"},
                        "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1.25]}]}],
                    }
                ],
            }
        )
        response.raise_for_status()
        reports = ven.reports()
        assert all(isinstance(r, Report) for r in reports)
        say("reported", status=response.status_code, id=response.json()["id"], client_id=reports[-1].client_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
