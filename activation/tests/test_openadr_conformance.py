"""OpenADR 3.0.1 conformance in the suite: schemathesis against the spec file (``docs/openadr3/openadr3-3.0.1.yaml``)
on the VTN (the project's WSGI application, in process), as the business logic and as a VEN, on generated ids and
on seeded objects. Seeded and bounded: the same requests every run. Asserts 0 server errors, 0 response-schema
violations, 0 valid requests rejected; prints the counts."""

from __future__ import annotations

import time

import pytest
from django.core.wsgi import get_wsgi_application

from .oadr_conformance import Tally, generate, seed, send

VERSION = "3.0.1"
BL_ONLY = ("createProgram", "updateProgram", "deleteProgram", "createEvent", "updateEvent", "deleteEvent", "deleteVen")
VEN_ONLY = ("createReport", "updateReport", "deleteReport")


@pytest.mark.django_db
def test_schemathesis_bl_and_ven_against_the_3_0_1_spec(act_world, capsys):
    w = act_world
    app = get_wsgi_application()
    seeded_world = seed(w)
    operator, token, seeded = seeded_world.operator_token, seeded_world.ven_token, seeded_world.ids
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
