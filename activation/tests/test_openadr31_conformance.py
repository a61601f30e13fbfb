"""OpenADR 3.1.0 conformance in the suite: schemathesis against the 3.1.0 spec (``docs/openadr3/openadr3-3.1.0.yaml``
read with the errata of ``oadr31_schema``) on the VTN (the project's WSGI application, in process, at
``/openadr3/3.1.0``), as the business logic and as a VEN, on generated ids and on seeded objects, with the harness
of the 3.0.1 conformance (``oadr_conformance``). Seeded and bounded: the same requests every run. Asserts 0 server
errors, 0 response-schema violations, 0 valid requests rejected (403 only outside the role's scopes); prints the
counts."""

from __future__ import annotations

import time

import pytest
from django.core.wsgi import get_wsgi_application

from .oadr31_schema import document
from .oadr_conformance import Tally, generate, seed, send

VERSION = "3.1.0"
# The spec's scopes: write_programs, write_events and read_bl are the BL's, write_reports the VENs'.
BL_ONLY = (
    "createProgram",
    "updateProgram",
    "deleteProgram",
    "createEvent",
    "updateEvent",
    "deleteEvent",
    "deleteVen",
    "listAllMqttNotifierTopicsEvents",
    "listAllMqttNotifierTopicsReports",
    "listAllMqttNotifierTopicsSubscriptions",
    "listAllMqttNotifierTopicsVens",
    "listAllMqttNotifierTopicsResources",
)
VEN_ONLY = ("createReport", "updateReport", "deleteReport")
DELETES = ("deleteProgram", "deleteEvent", "deleteReport", "deleteSubscription", "deleteVen", "deleteVenResource")


@pytest.mark.django_db
def test_schemathesis_bl_and_ven_against_the_3_1_0_spec(act_world, capsys):
    w = act_world
    app = get_wsgi_application()
    doc = {**document(), "servers": [{"url": "/openadr3/3.1.0"}]}
    seeded_world = seed(w, subscription_program=False)
    operator, token, seeded = seeded_world.operator_token, seeded_world.ven_token, seeded_world.ids
    common = {"version": VERSION, "app": app, "document": doc}
    started = time.perf_counter()
    # Generated once, sent as each role: on generated ids, then on the seeded objects, deletes last.
    reads_and_writes = generate(**common, skip=DELETES) + generate(
        **common, skip=DELETES, path_parameters=seeded, positive_examples=2, negative_examples=1
    )
    removals = generate(**common, only=DELETES, positive_examples=2, negative_examples=1) + generate(
        **common, only=DELETES, path_parameters=seeded, positive_examples=1, negative_examples=0
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
        print(f"\nschemathesis OpenADR {VERSION}: {len(reads_and_writes) + len(removals)} cases in {generated:.1f} s")  # noqa: T201
        for role, tally in tallies.items():
            print(f"\nschemathesis OpenADR {VERSION} {tally.summary(role)}")  # noqa: T201
            for line in tally.examples:
                print("   ", line)  # noqa: T201
    for role, tally in tallies.items():
        assert tally.requests > 100, role
        assert not tally.failures, (role, tally.examples)
