"""Every list endpoint answers one page through the default pagination (``flexplatform.api.paginated``), with a
fixed number of queries whatever the page size, and says so in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from accounts.models import Meter, Premise

pytestmark = pytest.mark.django_db


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json(), len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("url", "model", "key"),
    [("/api/v1/accounts/premises/", Premise, "id"), ("/api/v1/assessment/meters/", Meter, "meter_id")],
)
def test_list_endpoints_page_with_a_fixed_number_of_queries(world, api_for, url, model, key):
    admin = api_for("admin@demo.flex")
    admin.get(url)  # the user's memberships are read once, by the first request
    total = model.objects.count()
    assert total >= 6
    small, small_queries = _queries(admin, f"{url}?limit=2")
    assert (small["count"], len(small["results"]), small["previous"]) == (total, 2, None)
    assert small["next"].endswith(f"{url}?limit=2&offset=2")
    second, _ = _queries(admin, f"{url}?limit=2&offset=2")
    assert {r[key] for r in second["results"]}.isdisjoint(r[key] for r in small["results"])
    everything, all_queries = _queries(admin, url)
    assert everything["count"] == total and len(everything["results"]) == total and everything["next"] is None
    # one count, one page (and its related rows in the same statement): the same for 2 items as for all
    assert small_queries == all_queries == 2


def test_no_list_endpoint_answers_a_bare_array():
    """A GET under /api/v1/ whose answer is a JSON array is a list without pagination: the schema says which."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    bare = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not path.startswith("/api/v1/") or get is None:
            continue
        content = get["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if content.get("schema", {}).get("type") == "array":
            bare.append(path)
    assert bare == []
