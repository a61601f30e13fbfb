"""Schema-driven fuzzing of the platform's REST API (issue 20): every operation of the project's own OpenAPI
document (``/api/schema/``, drf-spectacular) is generated from its schemas with schemathesis — positive cases
(what the schema allows) and negative ones (what it forbids) — sent in process to the WSGI application as one
role, and checked:

* ``not_a_server_error``: no 5xx, whatever a client sends;
* ``response_schema_conformance``: each answer has the shape the document declares for its status.

Generation is seeded (Hypothesis ``derandomize``) and bounded (``max_examples`` per operation and mode), so a run
sends the same requests each time. The counts per role are returned; the tests assert the failures are zero.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance


@dataclass
class Tally:
    requests: int = 0
    seconds_in_app: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # check name -> count
    examples: list[str] = field(default_factory=list)

    def fail(self, check: str, label: str, detail: str) -> None:
        self.failures[check] += 1
        if len(self.examples) < 15:
            self.examples.append(f"{check} {label}: {detail[:500]}")

    def summary(self, role: str) -> str:
        fails = ", ".join(f"{k}={v}" for k, v in sorted(self.failures.items())) or "none"
        codes = ", ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return f"{role}: {self.requests} requests ({self.seconds_in_app:.1f} s in the app); failures: {fails}; statuses {codes}"


def openapi_document() -> dict:
    """The document ``/api/schema/`` serves, as JSON data."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


def cases(
    *, app, path_parameters: dict[str, str] | None = None, positive_examples: int = 2, negative_examples: int = 1
) -> tuple[list[tuple[str, object]], int]:
    """The generated requests: (mode, case) for every operation, positive and negative, generated once (seeded) and
    replayed for every role (generation costs far more than the requests). ``path_parameters``: ids of seeded rows
    (so detail operations reach real objects; without them generated ids mostly answer 404). Also returns how
    many (operation, mode) pairs had nothing to generate (e.g. a negative case when every parameter is fixed)."""
    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.app = app
    out, unsatisfiable = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in (
            (GenerationMode.POSITIVE, positive_examples),
            (GenerationMode.NEGATIVE, negative_examples),
        ):
            if not examples:
                continue
            params = {k: v for k, v in (path_parameters or {}).items() if "{" + k + "}" in operation.path} or None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=params)
            found: list = []

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
                found.append(case)  # noqa: B023 - run at once, before the loop moves on

            try:
                collect()
            except Unsatisfiable:
                unsatisfiable += 1
            out += [(mode.value, case) for case in found]
    return out, unsatisfiable


def run(generated: list[tuple[str, object]], *, headers: dict[str, str]) -> Tally:
    """Send every generated case with ``headers`` (one role's credentials) and check each answer."""
    tally = Tally()
    for mode, case in generated:
        started = time.perf_counter()
        response = case.call(headers=headers)
        tally.seconds_in_app += time.perf_counter() - started
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        label = f"{case.operation.label} [{mode}] -> {response.status_code}"
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except FailureGroup as group:
            for failure in group.exceptions:
                tally.fail(check_name(failure), label, f"{failure.title}: {response.text[:300]}")
        except Failure as failure:
            tally.fail(check_name(failure), label, f"{failure.title}: {response.text[:300]}")
    return tally


def check_name(failure: Failure) -> str:
    """The check a schemathesis failure belongs to (the names the tests count)."""
    return {
        "ServerError": "not_a_server_error",
        "JsonSchemaError": "response_schema_conformance",
        "MalformedJson": "response_schema_conformance",
        "MissingContentType": "response_schema_conformance",
        "UndefinedStatusCode": "response_schema_conformance",
        "UndefinedContentType": "response_schema_conformance",
    }.get(type(failure).__name__, type(failure).__name__)
