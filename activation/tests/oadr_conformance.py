"""Schema-driven conformance of an OpenADR 3 VTN with schemathesis, against the spec file itself (any version).

Every operation of the spec is generated from its schemas (positive: bodies and parameters the spec allows;
negative: ones it forbids) once (``generate``), sent to the project's WSGI application as each role (the business
logic, a VEN: ``send``), and checked:

* ``not_a_server_error``: no 5xx;
* ``response_schema_conformance``: each answer is the schema the spec declares for its status;
* valid requests accepted: a positive case is never answered 400/415/422 (404 for an id that does not exist,
  409 for a name taken, 403 for an operation outside the role's scopes, 401 from ``/auth/token`` for unknown
  credentials are answers, not rejections; a create or update sent without its body, which the 3.0.1 spec
  leaves optional, is refused and not counted). Strings are generated without U+0000, which the VTN refuses
  because PostgreSQL cannot store it.

Generation is seeded (Hypothesis ``derandomize``) and bounded (``max_examples`` per operation and mode), so a run
sends the same requests each time. ``Tally`` keeps the counts per check and status; tests assert and print them.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.tokens import api_token_issue
from activation import openadr_events, openadr_spec
from activation import openadr_services as oadr
from tests.api_fuzz import Tally, check_name

REJECTED = {400, 415, 422}


@dataclass(frozen=True)
class Generated:
    op_id: str
    mode: GenerationMode
    case: object


def generate(
    *,
    version: str,
    app,
    path_parameters: dict[str, str] | None = None,
    positive_examples: int = 3,
    negative_examples: int = 2,
    only: tuple[str, ...] | None = None,
    skip: tuple[str, ...] = (),
    document: dict | None = None,
) -> list[Generated]:
    """The cases, generated once (seeded) for every operation of the spec (or ``only`` those), to send as each
    role. ``path_parameters``: fixed ids of seeded objects (None: generated ids, mostly 404). ``document``: the spec
    as a dict, when a test reads it with errata (3.1.0: ``oadr31_schema.document``); else the file of ``version``."""
    if document is not None:
        schema = schemathesis.openapi.from_dict(document)
    else:
        schema = schemathesis.openapi.from_path(openadr_spec.spec_path(version))
    schema.app = app  # the spec's own file, sent to the project's WSGI application
    # No U+0000 in generated strings: the VTN refuses it (400) because PostgreSQL text and jsonb cannot store it.
    schema.config.generation.update(allow_x00=False)
    out: list[Generated] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        op_id = operation.definition.raw.get("operationId", operation.label)
        if op_id in skip or (only is not None and op_id not in only):
            continue
        params = {k: v for k, v in (path_parameters or {}).items() if "{" + k + "}" in operation.path} or None
        for mode, examples in (
            (GenerationMode.POSITIVE, positive_examples),
            (GenerationMode.NEGATIVE, negative_examples),
        ):
            if examples:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=params)
                out += [Generated(op_id, mode, case) for case in _examples(strategy, examples)]
    return out


def _examples(strategy, examples: int) -> list:
    found = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=strategy)
    def collect(case):
        found.append(case)

    try:
        collect()
    except Unsatisfiable:  # no case of this mode exists (an operation without parameters has no negative one)
        pass
    return found


@contextmanager
def _connections_kept():
    """As Django's test client does: the app in process must not close the test's database connection at the end
    of each request (on PostgreSQL that would end the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def send(cases: list[Generated], *, headers: dict[str, str], forbidden: tuple[str, ...], tally: Tally) -> Tally:
    """Send the cases with ``headers`` (the role's credentials) and check each answer. ``forbidden``:
    operationIds outside the role's scopes (403 expected, not a rejection)."""
    with _connections_kept():
        for g in cases:
            _send_one(g, headers=headers, forbidden=forbidden, tally=tally)
    return tally


def _send_one(g: Generated, *, headers: dict[str, str], forbidden: tuple[str, ...], tally: Tally) -> None:
    case, mode, op_id = g.case, g.mode, g.op_id
    started = time.perf_counter()
    response = case.call(headers=headers)
    tally.seconds_in_app += time.perf_counter() - started
    tally.requests += 1
    tally.statuses[response.status_code] += 1
    label = f"{case.operation.label} [{mode.value}] -> {response.status_code}"
    try:
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
    except FailureGroup as group:
        for failure in group.exceptions:
            tally.fail(check_name(failure), label, f"{failure.title}: {response.text}")
    except Failure as failure:
        tally.fail(check_name(failure), label, f"{failure.title}: {response.text}")
    if mode.is_positive:
        # The spec leaves these request bodies optional; a create or update without its object is refused.
        no_body = case.body is NOT_SET and case.operation.definition.raw.get("requestBody") is not None
        if response.status_code in REJECTED and not no_body:
            tally.fail("positive_data_acceptance", label, f"{response.text} {case.body!r}")
        if response.status_code == 403 and op_id not in forbidden:
            tally.fail("positive_data_acceptance", label, f"403 in scope: {response.text}")
        if response.status_code == 401 and op_id != "fetchToken":
            tally.fail("authentication", label, response.text)


@dataclass(frozen=True)
class Seeded:
    """A VTN with one of each object, as the conformance runs use it: credentials and the objects' ids."""

    operator_token: str  # the business logic's API token
    ven_token: str  # the VEN's bearer token
    ids: dict[str, str]  # path parameter -> id of the seeded object


def seed(world, *, subscription_program: bool = True) -> Seeded:
    """A VEN with a resource, a program, an event kept whole, a report and a subscription (to the program, or to
    every program when ``subscription_program`` is False: OpenADR 3.1.0)."""
    operator = api_token_issue(user=world.user("operator@demo.flex"))[1]
    ven = oadr.ven_register(
        ven_name="fuzz-ven", client_id="fuzz-ven", client_secret="s3cret-s3cret", organisation=world.world.aggregator
    )
    resource = oadr.ven_resource_upsert(
        ven=ven, resource_name="site", attributes=[{"type": "PREMISE_ID", "values": [world.premises[1].pk]}]
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
        program=program if subscription_program else None,
        client_name="fuzz-ven",
        object_operations=[{"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "http://127.0.0.1:9/cb"}],
        targets=None,
    )
    ids = {
        "programID": str(program.pk),
        "eventID": f"vtn-{event.pk}",
        "reportID": str(report.pk),
        "subscriptionID": str(sub.pk),
        "venID": str(ven.pk),
        "resourceID": str(resource.pk),
    }
    return Seeded(operator_token=operator, ven_token=token, ids=ids)
