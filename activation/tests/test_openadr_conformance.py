"""OpenADR 3.0.1 conformance in the suite: schemathesis against the spec file (``docs/openadr3/openadr3-3.0.1.yaml``)
on the VTN (the project's WSGI application, in process), as the business logic and as a VEN, on generated ids and
on seeded objects. Seeded and bounded: the same requests every run. Asserts 0 server errors, 0 response-schema
violations, 0 valid requests rejected; prints the counts."""

from __future__ import annotations

import time

import pytest
from django.core.wsgi import get_wsgi_application

from accounts.tokens import api_token_issue
from activation import openadr_events
from activation import openadr_services as oadr

from .oadr_conformance import Tally, generate, send

VERSION = "3.0.1"
BL_ONLY = ("createProgram", "updateProgram", "deleteProgram", "createEvent", "updateEvent", "deleteEvent", "deleteVen")
VEN_ONLY = ("createReport", "updateReport", "deleteReport")


@pytest.mark.django_db
def test_schemathesis_bl_and_ven_against_the_3_0_1_spec(act_world, capsys):
    w = act_world
    app = get_wsgi_application()
    operator = api_token_issue(user=w.user("operator@demo.flex"))[1]
    ven = oadr.ven_register(
        ven_name="fuzz-ven", client_id="fuzz-ven", client_secret="s3cret-s3cret", organisation=w.world.aggregator
    )
    resource = oadr.ven_resource_upsert(
        ven=ven, resource_name="site", attributes=[{"type": "PREMISE_ID", "values": [w.premises[1].pk]}]
    )
    token, _ = oadr.ven_token_issue(client_id="fuzz-ven", client_secret="s3cret-s3cret")
    program = oadr.oadr_program_save(program=None, spec={"programName": "fuzz-program"})
    event = openadr_events.oadr_event_create(
        program=program,
        spec={
            "programID": str(program.pk),
            "intervalPeriod": {"start": "2031-06-10T12:00:00Z", "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.2]}]}],
        },
    )
    report = oadr.oadr_report_save(
        ven=ven,
        program=program,
        event=event,
        client_name="fuzz-ven",
        resources=[{"resourceName": "site", "intervals": []}],
    )
    sub = oadr.subscription_save(
        subscription=oadr.OadrSubscription(ven=ven),
        program=program,
        client_name="fuzz-ven",
        object_operations=[{"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "http://127.0.0.1:9/cb"}],
        targets=None,
    )
    seeded = {
        "programID": str(program.pk),
        "eventID": f"vtn-{event.pk}",
        "reportID": str(report.pk),
        "subscriptionID": str(sub.pk),
        "venID": str(ven.pk),
        "resourceID": str(resource.pk),
    }
    deletes = ("deleteProgram", "deleteEvent", "deleteReport", "deleteSubscription", "deleteVen", "deleteVenResource")
    started = time.perf_counter()
    # Generated once, sent as each role: on generated ids, then on the seeded objects, deletes last.
    reads_and_writes = generate(version=VERSION, app=app, skip=deletes) + generate(
        version=VERSION, app=app, skip=deletes, path_parameters=seeded, positive_examples=2, negative_examples=1
    )
    removals = generate(version=VERSION, app=app, only=deletes, positive_examples=2, negative_examples=1) + generate(
        version=VERSION, app=app, only=deletes, path_parameters=seeded, positive_examples=1, negative_examples=0
    )
    generated = time.perf_counter() - started
    roles = (
        ("VEN", {"Authorization": f"Bearer {token}"}, BL_ONLY),
        ("BL", {"Authorization": f"Token {operator}"}, VEN_ONLY),
    )
    tallies = {role: Tally() for role, _, _ in roles}
    for cases in (reads_and_writes, removals):
        for role, headers, forbidden in roles:
            send(cases, headers=headers, forbidden=forbidden, tally=tallies[role])
    with capsys.disabled():
        print(f"\nschemathesis OpenADR {VERSION}: {len(reads_and_writes) + len(removals)} cases in {generated:.1f} s")
        for role, tally in tallies.items():
            print(f"\nschemathesis OpenADR {VERSION} {tally.summary(role)}")
            for line in tally.examples:
                print("   ", line)
    for role, tally in tallies.items():
        assert tally.requests > 100, role
        assert not tally.failures, (role, tally.examples)
