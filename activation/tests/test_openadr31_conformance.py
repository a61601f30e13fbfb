"""Schema-driven conformance of the OpenADR 3.1.0 VTN: schemathesis generates requests from the 3.1.0 OpenAPI
definition (``docs/openadr3/openadr3-3.1.0.yaml``, with the erratum of ``oadr31_schema``) for every operation, as
the BL (the grid operator's API token) and as a registered VEN (its bearer token), against real objects (the path
ids of a program, event, report, subscription, VEN and resource) and random ones. Seeded (``derandomize``) and
bounded, so each run sends the same requests.

Counted per role: server errors (5xx), responses that break the operation's response schema, and valid requests
rejected (a 4xx other than 401, 403, 404 and 409 for data the schema allows: 403 is a role the spec's scopes
refuse, 404 an id the caller cannot see, 409 a name taken). Every count must be 0.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error, positive_data_acceptance, response_schema_conformance
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from activation import openadr_services as oadr
from activation.models import OadrReport, OadrSubscription, VenResource

from .oadr31_schema import document

pytestmark = pytest.mark.django_db(transaction=False)
BASE = "/openadr3/3.1.0"
EXAMPLES = 6  # per operation, role and id set
CHECKS = {
    "server_error": not_a_server_error,
    "response_schema": response_schema_conformance,
    "valid_rejected": positive_data_acceptance,
}


def _schema():
    doc = dict(document())
    doc["servers"] = [{"url": BASE}]
    config = SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409"]}}}
    )
    schema = schemathesis.openapi.from_dict(doc, config=config)
    schema.app = get_wsgi_application()
    return schema


def _run(schema, headers: dict, ids: dict) -> tuple[Counter, list[str], int]:
    failures: Counter = Counter()
    examples: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = [p.name for p in operation.path_parameters]
        id_sets = [None] + ([{n: ids[n] for n in names}] if names and all(n in ids for n in names) else [])
        for path_ids in id_sets:
            strategy = operation.as_strategy(path_parameters=path_ids) if path_ids else operation.as_strategy()

            @hypothesis.settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=strategy)
            def call(case):
                nonlocal sent
                response = case.call(headers=headers)
                sent += 1
                for name, check in CHECKS.items():
                    try:
                        case.validate_response(response, checks=[check])
                    except (FailureGroup, AssertionError):  # each failed check is counted, not raised
                        failures[name] += 1
                        if len(examples) < 40:
                            examples.append(
                                f"{name}: {case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                            )

            call()
    return failures, examples, sent


@pytest.fixture
def vtn(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    mine = events[0]
    report = oadr.oadr_report_save(
        ven=ven_a,
        program=w.program,
        event=mine,
        client_name="ven-a",
        resources=[
            {"resourceName": "ven-a-site", "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1]}]}]}
        ],
    )
    sub = oadr.subscription_save(
        subscription=OadrSubscription(ven=ven_a),
        program=w.program,
        client_name="ven-a",
        object_operations=[{"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "http://127.0.0.1:9/cb"}],
        targets=None,
    )
    resource = VenResource.objects.filter(ven=ven_a).first()
    ids = {
        "programID": str(w.program.pk),
        "eventID": str(mine.pk),
        "reportID": str(report.pk),
        "subscriptionID": str(sub.pk),
        "venID": str(ven_a.pk),
        "resourceID": str(resource.pk),
    }
    assert OadrReport.objects.filter(pk=report.pk).exists()
    token = a._credentials["HTTP_AUTHORIZATION"]
    operator = get_user_model().objects.get(email="operator@demo.flex")
    bl_token = f"Token {Token.objects.get_or_create(user=operator)[0].key}"
    return {"ven": {"Authorization": token}, "bl": {"Authorization": bl_token}}, ids, mine


@pytest.mark.parametrize("role", ["bl", "ven"])
def test_vtn_31_conforms_to_the_spec(vtn, role, record_property):
    headers, ids, event = vtn
    assert event.start > event.created_at + timedelta(minutes=1)
    failures, examples, sent = _run(_schema(), headers[role], ids)
    record_property("requests", sent)
    print(f"OpenADR 3.1.0 as {role}: {sent} requests, failures {dict(failures)}")  # noqa: T201
    assert sent > 200
    assert failures == Counter(), "\n".join(examples)
