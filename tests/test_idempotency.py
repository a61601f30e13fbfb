"""``flexplatform.api.idempotent_post``: a repeated Idempotency-Key is answered from the record, not re-run."""

from __future__ import annotations

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from flexplatform.api import idempotent_post
from flexplatform.core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


class CountingApi(APIView):
    runs = 0

    def post(self, request):
        def handler():
            CountingApi.runs += 1
            return Response({"run": CountingApi.runs}, status=201)

        return idempotent_post(request, "test_counting", handler)


def _post(user, body, key="k-1"):
    request = APIRequestFactory().post("/x", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    force_authenticate(request, user=user)
    return CountingApi.as_view()(request)


def test_a_repeat_is_answered_from_the_record_without_running_again(django_user_model):
    user = django_user_model.objects.create_user(username="idem@t.flex", email="idem@t.flex", password="x-pass-123")
    CountingApi.runs = 0
    first = _post(user, {"a": 1})
    again = _post(user, {"a": 1})
    assert (first.status_code, first.data, again.status_code, again.data) == (201, {"run": 1}, 201, {"run": 1})
    assert CountingApi.runs == 1 and IdempotencyRecord.objects.count() == 1
    other_body = _post(user, {"a": 2})
    assert other_body.status_code == 409 and other_body.data["code"] == "idempotency_key_reused"
    assert CountingApi.runs == 1
    assert _post(user, {"a": 1}, key="k-2").data == {"run": 2}  # a new key is a new request
