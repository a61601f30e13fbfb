"""The REST API fuzzed as every role (issue 20): 0 server errors and 0 response-schema violations.

Each role fuzzes every operation of ``/api/schema/`` (seeded, bounded: ``tests/api_fuzz.py``) on the small demo
world, with the ids of that world's rows as path parameters so detail operations reach real objects of the
role's own and of other tenants. Runs on SQLite by default and on PostgreSQL in CI (where NUL bytes and integer
ranges are the database's own refusals, so the API must catch them first).
"""

from __future__ import annotations

import os
import time

import pytest
from django.core.wsgi import get_wsgi_application
from rest_framework.authtoken.models import Token

from accounts import services as accounts_services
from accounts.models import Membership, Organisation
from tests import api_fuzz

ROLES = {
    "anonymous": None,
    "consumer": "consumer01@demo.flex",
    "aggregator": "aggregator@demo.flex",
    "operator": "operator@demo.flex",
    "admin": "admin@demo.flex",
    "auditor": "auditor@fuzz.flex",
}


@pytest.fixture
def fuzz_world(small_world):
    from django.contrib.auth import get_user_model

    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    accounts_services.user_create(
        email="auditor@fuzz.flex", password="x-pass-123", organisation=platform, role=Membership.Role.AUDITOR
    )
    users = get_user_model().objects
    headers = {}
    for role, email in ROLES.items():
        headers[role] = (
            {}
            if email is None
            else {"Authorization": f"Token {Token.objects.get_or_create(user=users.get(email=email))[0].key}"}
        )
    premise = small_world.premises[0]
    meter = premise.meters.get()
    ids = {"pk": str(premise.pk), "id": str(premise.pk), "premise_id": str(premise.pk), "meter_id": meter.meter_id}
    return headers, ids


@pytest.mark.django_db(transaction=True)
def test_no_server_error_and_no_schema_violation_for_any_role(fuzz_world):
    """One world for all roles (the world costs more than the fuzzing); every role's counts are printed."""
    headers, ids = fuzz_world
    started = time.perf_counter()
    scale = int(os.environ.get("FUZZ_EXAMPLES", "1"))  # a deeper run: FUZZ_EXAMPLES=10 (examples per operation x)
    generated, unsatisfiable = api_fuzz.cases(
        app=get_wsgi_application(), path_parameters=ids, positive_examples=2 * scale, negative_examples=scale
    )
    print(f"{len(generated)} cases generated in {time.perf_counter() - started:.0f} s ({unsatisfiable} without a case)")
    summaries, examples, failed = [], [], False
    for role in ROLES:
        started = time.perf_counter()
        tally = api_fuzz.run(generated, headers=headers[role])
        summaries.append(f"{tally.summary(role)} [{time.perf_counter() - started:.0f} s]")
        print(summaries[-1])
        assert tally.requests > 100, summaries[-1]
        failed = failed or bool(tally.failures)
        examples += tally.examples
    assert not failed, "\n".join(summaries + examples)
