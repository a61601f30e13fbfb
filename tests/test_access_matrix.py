"""Who may call what: a role x endpoint x own/other-tenant matrix generated from the URL configuration (issue 20).

Every REST route under ``/api/v1/`` and each of its methods must have a rule in ``RULES`` (the roles that pass the
role check), so a new endpoint without a rule fails :func:`test_every_endpoint_has_a_rule`. The matrix then calls
each route with each method as each role (an empty body; ids of rows that exist where the route names one, else
an id that does not) and asserts: a role outside the rule is refused (401 anonymous, 403 otherwise); a role in it
is not (it may still get 400 for the empty body or 404 for the id). Auditors read every read endpoint and write
nothing; anonymous callers reach only the public ones.

Tenants: for routes that name a tenant's row (a premise, a meter, a device, a consent), the owner passes and
another consumer is refused, with the same answer whether the row exists or not (no probing of ids).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import Consent, Device, Membership, Organisation

ROLES = ("anonymous", "consumer", "aggregator", "operator", "admin", "auditor")
EMAILS = {
    "consumer": "consumer01@demo.flex",
    "aggregator": "aggregator@demo.flex",
    "operator": "operator@demo.flex",
    "admin": "admin@demo.flex",
    "auditor": "auditor@matrix.flex",
}
ALL = set(ROLES)
SIGNED_IN = ALL - {"anonymous"}
READERS = {"auditor"}  # added to every GET rule below: auditors read everything
PARTICIPANTS = {"consumer", "aggregator"}

# (METHOD, route) -> the roles that pass the role check. Reads get the auditor added automatically.
RULES: dict[tuple[str, str], set[str]] = {
    ("GET", "api/v1/accounts/premises/"): SIGNED_IN,
    ("POST", "api/v1/accounts/auth/token/"): ALL,
    ("GET", "api/v1/accounts/auth/tokens/"): SIGNED_IN,
    ("POST", "api/v1/accounts/auth/tokens/<int:pk>/rotate/"): SIGNED_IN,
    ("POST", "api/v1/accounts/auth/tokens/<int:pk>/revoke/"): SIGNED_IN,
    ("GET", "api/v1/accounts/kyc/cases/"): PARTICIPANTS,
    ("POST", "api/v1/accounts/kyc/cases/"): PARTICIPANTS,
    ("POST", "api/v1/accounts/kyc/cases/<int:pk>/documents/"): PARTICIPANTS,
    ("POST", "api/v1/accounts/kyc/cases/<int:pk>/submit/"): PARTICIPANTS,
    ("GET", "api/v1/accounts/consents/"): PARTICIPANTS | {"admin"},
    ("POST", "api/v1/accounts/consents/"): {"consumer"},
    ("POST", "api/v1/accounts/consents/<int:pk>/revoke/"): {"consumer"},
    ("GET", "api/v1/accounts/enrolments/"): {"aggregator", "admin"},
    ("POST", "api/v1/accounts/enrolments/"): {"aggregator"},
    ("GET", "api/v1/accounts/resources/verified/"): {"operator", "admin"},
    ("GET", "api/v1/accounts/compliance/"): PARTICIPANTS,
    ("GET", "api/v1/accounts/audit/"): {"admin"},
    ("POST", "api/v1/accounts/wallet/nonce/"): SIGNED_IN - {"auditor"},
    ("POST", "api/v1/accounts/wallet/link/"): SIGNED_IN - {"auditor"},
    ("GET", "api/v1/accounts/devices/"): SIGNED_IN,
    ("POST", "api/v1/accounts/devices/"): PARTICIPANTS | {"admin"},
    ("GET", "api/v1/accounts/devices/<int:pk>/capability/"): SIGNED_IN,
    ("POST", "api/v1/assessment/availability/"): PARTICIPANTS,
    ("GET", "api/v1/assessment/premises/<int:premise_id>/flexibility/"): SIGNED_IN,
    ("GET", "api/v1/assessment/capacity/"): {"operator", "admin"},
    ("POST", "api/v1/assessment/readings/"): PARTICIPANTS | {"admin"},
    ("POST", "api/v1/assessment/readings/csv/"): PARTICIPANTS | {"admin"},
    ("GET", "api/v1/assessment/meters/"): SIGNED_IN,
    ("POST", "api/v1/assessment/meters/"): PARTICIPANTS | {"admin"},
    ("POST", "api/v1/assessment/meters/<str:meter_id>/espi/"): PARTICIPANTS | {"admin"},
    ("GET", "api/v1/assessment/meters/<str:meter_id>/readings/"): SIGNED_IN,
    ("GET", "api/v1/assessment/meters/<str:meter_id>/revisions/"): SIGNED_IN,
    ("GET", "api/v1/assessment/meters/<str:meter_id>/status/"): SIGNED_IN,
    ("GET", "api/v1/assessment/meters/<str:meter_id>/consumption/"): SIGNED_IN,
    ("GET", "api/v1/assessment/meters/<str:meter_id>/quality/"): SIGNED_IN,
    ("POST", "api/v1/assessment/meters/<str:meter_id>/green-button/"): PARTICIPANTS | {"admin"},
    ("GET", "api/v1/assessment/premises/<int:premise_id>/location/"): SIGNED_IN,
    ("PUT", "api/v1/assessment/premises/<int:premise_id>/location/"): PARTICIPANTS | {"admin"},
    ("GET", "api/v1/market/offers/"): PARTICIPANTS,
    ("POST", "api/v1/market/offers/"): PARTICIPANTS,
    ("GET", "api/v1/market/requests/"): {"operator"},
    ("POST", "api/v1/market/requests/"): {"operator"},
    ("GET", "api/v1/market/awards/"): SIGNED_IN,
    ("GET", "api/v1/market/orders/"): PARTICIPANTS | {"operator"},
    ("POST", "api/v1/market/orders/"): PARTICIPANTS | {"operator"},
    ("POST", "api/v1/market/orders/<int:pk>/cancel/"): PARTICIPANTS | {"operator"},
    ("POST", "api/v1/market/orders/<int:pk>/modify/"): PARTICIPANTS | {"operator"},
    ("GET", "api/v1/market/positions/"): PARTICIPANTS | {"operator"},
    ("GET", "api/v1/market/auctions/"): SIGNED_IN,
    ("POST", "api/v1/market/auctions/"): {"operator"},
    ("GET", "api/v1/market/prices/"): ALL,
    ("GET", "api/v1/market/price-signal/"): ALL,
    ("GET", "api/v1/market/runs/<int:pk>/rerun/"): {"operator", "admin"},
    ("POST", "api/v1/market/arbitrage/"): PARTICIPANTS,
    ("GET", "api/v1/activation/reservations/"): SIGNED_IN,
    ("POST", "api/v1/activation/reservations/<int:pk>/call/"): {"operator", "admin"},
    ("GET", "api/v1/activation/events/"): SIGNED_IN,
    ("POST", "api/v1/activation/events/"): {"operator", "admin"},
    ("POST", "api/v1/activation/events/<int:pk>/cancel/"): {"operator", "admin"},
    ("POST", "api/v1/activation/events/<int:pk>/opt-out/"): PARTICIPANTS,
    ("GET", "api/v1/activation/events/<int:pk>/monitor/"): SIGNED_IN,
    ("POST", "api/v1/activation/emergency-events/"): {"operator", "admin"},
    ("GET", "api/v1/activation/cascades/"): {"operator", "admin"},
    ("POST", "api/v1/activation/cascades/"): {"operator", "admin"},
    ("POST", "api/v1/activation/grid-signals/"): {"operator"},
    ("GET", "api/v1/activation/emergency-stop/"): {"operator", "admin"},
    ("POST", "api/v1/activation/emergency-stop/"): {"operator", "admin"},
    ("DELETE", "api/v1/activation/emergency-stop/"): {"admin"},
    ("GET", "api/v1/activation/trigger-rules/"): {"operator"},
    ("POST", "api/v1/activation/trigger-rules/"): {"operator"},
    ("GET", "api/v1/activation/webhook-endpoints/"): {"aggregator"},
    ("POST", "api/v1/activation/webhook-endpoints/"): {"aggregator"},
    ("POST", "api/v1/activation/ven-clients/"): {"aggregator", "operator"},
    ("GET", "api/v1/settlement/items/"): SIGNED_IN,
    ("GET", "api/v1/settlement/items/<int:pk>/proof/"): SIGNED_IN,
    ("GET", "api/v1/settlement/items/<int:pk>/proof/download/"): SIGNED_IN,
    ("POST", "api/v1/settlement/proofs/verify/"): ALL,
    ("GET", "api/v1/settlement/anchors/"): ALL,
    ("GET", "api/v1/settlement/runs/"): {"admin"},
    ("POST", "api/v1/settlement/runs/"): {"admin"},
    ("GET", "api/v1/settlement/disputes/"): PARTICIPANTS | {"admin"},
    ("GET", "api/v1/settlement/disputes/<int:pk>/"): PARTICIPANTS | {"admin"},
    ("POST", "api/v1/settlement/disputes/<int:pk>/resolve/"): {"admin"},
    ("POST", "api/v1/settlement/items/<int:pk>/disputes/"): PARTICIPANTS,
    ("GET", "api/v1/settlement/balances/"): PARTICIPANTS,
    ("GET", "api/v1/settlement/stakes/"): PARTICIPANTS,
    ("POST", "api/v1/settlement/stakes/"): PARTICIPANTS,
    ("POST", "api/v1/settlement/stakes/<int:pk>/release/"): PARTICIPANTS,
    ("GET", "api/v1/settlement/proposals/"): SIGNED_IN,
    ("POST", "api/v1/settlement/proposals/"): SIGNED_IN - {"auditor"},
    ("POST", "api/v1/settlement/proposals/<int:pk>/votes/"): PARTICIPANTS,
    ("POST", "api/v1/settlement/proposals/<int:pk>/execute/"): {"admin"},
    ("GET", "api/v1/settlement/parameters/"): SIGNED_IN,
    ("GET", "api/v1/settlement/withdrawals/"): PARTICIPANTS,
    ("GET", r"api/v1/settlement/^statements/(?P<year>[0-9]{4})/(?P<month>[0-9]{1,2})\.(?P<fmt>csv|pdf)$"): PARTICIPANTS,
    ("GET", r"api/v1/settlement/^tax/(?P<year>[0-9]{4})/(?P<profile>[a-z0-9_]+)\.csv$"): {"admin"},
}
# Concrete URLs for the routes written as regular expressions.
REGEX_URLS = {
    r"api/v1/settlement/^statements/(?P<year>[0-9]{4})/(?P<month>[0-9]{1,2})\.(?P<fmt>csv|pdf)$": (
        "/api/v1/settlement/statements/2026/11.csv"
    ),
    r"api/v1/settlement/^tax/(?P<year>[0-9]{4})/(?P<profile>[a-z0-9_]+)\.csv$": (
        "/api/v1/settlement/tax/2026/us_1099_misc.csv"
    ),
}
METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> list[tuple[str, str]]:
    """(METHOD, route) for every REST route under /api/v1/ and every method its view answers."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p

    out = []
    for route, pattern in walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        out += [(m.upper(), route) for m in METHODS if view is not None and hasattr(view, m)]
    return out


#: POSTs that change nothing of the platform's records (a token exchange, one's own API tokens, a proof check):
#: open to auditors too.
NOT_WRITES = {
    ("POST", "api/v1/accounts/auth/token/"),
    ("POST", "api/v1/accounts/auth/tokens/<int:pk>/rotate/"),
    ("POST", "api/v1/accounts/auth/tokens/<int:pk>/revoke/"),
    ("POST", "api/v1/settlement/proofs/verify/"),
}


def _expected(method: str, route: str) -> set[str]:
    roles = set(RULES[(method, route)])
    if method == "GET" or (method, route) in NOT_WRITES:
        return roles | READERS
    return roles - READERS


def _url(route: str) -> str:
    if route in REGEX_URLS:
        return REGEX_URLS[route]
    return "/" + re.sub(r"<(?:(int|str):)?\w+>", lambda m: "999999" if m.group(1) == "int" else "no-such-id", route)


def _client(role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        client.force_authenticate(get_user_model().objects.get(email=EMAILS[role]))
    return client


def _call(client: APIClient, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(url, {}, format="json")


@pytest.fixture
def matrix_world(small_world):
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    accounts_services.user_create(
        email=EMAILS["auditor"], password="x-pass-123", organisation=platform, role=Membership.Role.AUDITOR
    )
    return small_world


def test_every_endpoint_has_a_rule():
    routes = _routes()
    missing = sorted(set(routes) - set(RULES))
    assert not missing, f"endpoints without an access rule in tests/test_access_matrix.py: {missing}"
    stale = sorted(set(RULES) - set(routes))
    assert not stale, f"rules for endpoints that no longer exist: {stale}"


@pytest.mark.django_db
def test_each_role_passes_exactly_the_endpoints_its_rule_names(matrix_world):
    clients = {role: _client(role) for role in ROLES}
    wrong = []
    for method, route in _routes():
        allowed = _expected(method, route)
        for role in ROLES:
            status = _call(clients[role], method, _url(route)).status_code
            refused = status in (401, 403)
            if status >= 500 or refused == (role in allowed):
                wrong.append(f"{method} /{route} as {role}: {status} (rule: {sorted(allowed)})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
def test_a_tenants_rows_are_refused_to_another_tenant_as_if_they_did_not_exist(matrix_world):
    owner, other = matrix_world.premises[0], matrix_world.premises[1]
    owner_user = get_user_model().objects.get(email="consumer01@demo.flex")
    assert owner.organisation.memberships.filter(user=owner_user).exists()
    assert not other.organisation.memberships.filter(user=owner_user).exists()
    intruder = _client("consumer")  # consumer01 reading consumer02's rows
    meter = other.meters.get()
    device = Device.objects.filter(premise=other).first()
    consent = Consent.objects.filter(premise=other).first()
    urls = [
        (f"/api/v1/assessment/premises/{other.pk}/flexibility/", "/api/v1/assessment/premises/999999/flexibility/"),
        *[
            (f"/api/v1/assessment/meters/{meter.meter_id}/{part}/", f"/api/v1/assessment/meters/no-such-meter/{part}/")
            for part in ("readings", "revisions", "status", "consumption")
        ],
    ]
    if device is not None:
        urls.append(
            (f"/api/v1/accounts/devices/{device.pk}/capability/", "/api/v1/accounts/devices/999999/capability/")
        )
    wrong = []
    for theirs, missing in urls:
        a, b = intruder.get(theirs), intruder.get(missing)
        if a.status_code not in (403, 404) or a.status_code != b.status_code:
            wrong.append(f"GET {theirs}: {a.status_code}; a missing row: {b.status_code}")
    if consent is not None:
        a = intruder.post(f"/api/v1/accounts/consents/{consent.pk}/revoke/", {}, format="json")
        b = intruder.post("/api/v1/accounts/consents/999999/revoke/", {}, format="json")
        if a.status_code not in (403, 404) or a.status_code != b.status_code:
            wrong.append(f"revoke another's consent: {a.status_code}; a missing one: {b.status_code}")
        consent.refresh_from_db()
        assert consent.status == Consent.Status.ACTIVE
    # The owner reads its own rows.
    mine = owner.meters.get()
    assert intruder.get(f"/api/v1/assessment/meters/{mine.meter_id}/status/").status_code == 200
    assert intruder.get(f"/api/v1/assessment/premises/{owner.pk}/flexibility/").status_code == 200
    assert not wrong, "\n".join(wrong)
