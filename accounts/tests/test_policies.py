"""``accounts.policies``: the one home of permission and scope rules (wrong role, wrong tenant, auditor read-only)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from accounts import policies
from accounts import services as accounts_services
from accounts.models import GridZone, Membership, Organisation, Premise
from flexplatform.errors import NotPermitted

R = Membership.Role


def _user(email):
    return get_user_model().objects.get(email=email)


@pytest.fixture
def west(world):
    """A second ISO zone served by its own operator (the demo's operator serves ``iso-east``)."""
    iso = accounts_services.zone_create(code="iso-west", name="ISO West")
    sub = accounts_services.zone_create(code="sub-west-1", name="Sub West 1", kind=GridZone.Kind.SUBSTATION, parent=iso)
    org = accounts_services.organisation_create(
        name="West DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[iso]
    )
    accounts_services.user_create(email="west@t.flex", password="x-pass-123", organisation=org)
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    accounts_services.user_create(email="auditor@t.flex", password="x-pass-123", organisation=platform, role=R.AUDITOR)
    return {"iso": iso, "sub": sub, "org": org}


def test_roles_and_acting_organisation(world, west):
    assert policies.role(_user("admin@demo.flex")) == R.ADMIN
    assert policies.role(_user("auditor@t.flex")) == R.AUDITOR
    assert policies.role(AnonymousUser()) is None and policies.acting_organisation(AnonymousUser()) is None
    assert policies.acting_organisation(_user("operator@demo.flex")) == world.operator
    assert policies.acting_organisation(_user("west@t.flex")) == west["org"]
    assert policies.acting_organisation(_user("aggregator@demo.flex"), R.AGGREGATOR) == world.aggregator
    assert policies.acting_organisation(_user("aggregator@demo.flex"), R.GRID_OPERATOR) is None
    with pytest.raises(NotPermitted):  # wrong role: an aggregator acts for no consumer or operator
        policies.require_acting_organisation(_user("aggregator@demo.flex"), (R.CONSUMER, R.GRID_OPERATOR))


def test_wrong_role_is_refused(world, west):
    with pytest.raises(NotPermitted, match="Only aggregators"):
        policies.require_role(_user("consumer01@demo.flex"), (R.AGGREGATOR,), "Only aggregators enroll premises.")
    assert policies.require_role(_user("aggregator@demo.flex"), (R.AGGREGATOR,)) == R.AGGREGATOR
    # an aggregator serves no zone, even the one its premises are in
    with pytest.raises(NotPermitted):
        policies.require_zone(_user("aggregator@demo.flex"), world.premises[0].grid_zone)


def test_wrong_tenant_is_refused(world, west):
    east_feeder = world.premises[0].grid_zone
    operator, west_user = _user("operator@demo.flex"), _user("west@t.flex")
    # an operator serves its zones and every zone below them, and no other operator's
    assert policies.serves_zone(operator, east_feeder) and policies.serves_zone(operator, east_feeder.parent)
    assert not policies.serves_zone(operator, west["sub"])
    assert policies.serves_zone(west_user, west["sub"]) and not policies.serves_zone(west_user, east_feeder)
    with pytest.raises(NotPermitted) as refused:
        policies.require_zone(west_user, east_feeder)
    assert refused.value.fields == {"zone": ["Not in your service area."]}
    assert policies.zone_scope(west_user) == {west["iso"].pk, west["sub"].pk}
    assert not policies.premises_visible_to(west_user).exists()
    # a consumer acts for its own organisation and writes only its own premises
    consumer = _user("consumer01@demo.flex")
    own = Premise.objects.get(organisation__name="Household 01")
    assert set(policies.premises_writable_by(consumer)) == {own}
    assert policies.may_act_for(consumer, own.organisation) and not policies.may_act_for(consumer, world.aggregator)
    with pytest.raises(NotPermitted):
        policies.require_premise_writable(consumer, world.premises[1])
    with pytest.raises(NotPermitted):
        policies.require_act_for(consumer, world.aggregator, field="organisation")
    # the admin acts for anyone, everywhere
    admin = _user("admin@demo.flex")
    assert policies.serves_zone(admin, west["sub"]) and policies.may_act_for(admin, world.aggregator)
    assert policies.zone_scope(admin) is None and policies.organisation_scope(admin) is None


def test_auditor_reads_everything_and_writes_nothing(world, west):
    auditor = _user("auditor@t.flex")
    assert policies.reads_everything(auditor) and not policies.may_write(auditor)
    assert policies.zone_scope(auditor) is None and policies.organisation_scope(auditor) is None
    assert set(policies.premises_visible_to(auditor)) == set(Premise.objects.all())
    assert not policies.premises_writable_by(auditor).exists()
    assert not policies.serves_zone(auditor, west["sub"])  # reading everything is not acting anywhere
    with pytest.raises(NotPermitted):
        policies.require_zone(auditor, world.premises[0].grid_zone)
    operator = _user("operator@demo.flex")
    assert policies.may_write(operator) and not policies.reads_everything(operator)
    assert policies.organisation_scope(operator) == [world.operator]
    assert not policies.premises_writable_by(operator).exists()  # operators read premises in their zones only


def test_consents_and_enrolments_are_read_by_the_parties_only(world, west):
    enrolled = {e.premise_id for e in policies.enrolments_visible_to(_user("admin@demo.flex"))}
    assert enrolled  # the demo's aggregator has enrolled households
    aggregator = _user("aggregator@demo.flex")
    assert {e.premise_id for e in policies.enrolments_visible_to(aggregator)} == enrolled
    consumer = _user("consumer02@demo.flex")
    own = set(Premise.objects.filter(organisation__name="Household 02").values_list("pk", flat=True))
    assert {c.premise_id for c in policies.consents_visible_to(consumer)} <= own
    assert {e.premise_id for e in policies.enrolments_visible_to(consumer)} <= own
    assert not policies.enrolments_visible_to(_user("west@t.flex")).exists()  # wrong tenant: not its zones
    assert set(policies.consents_visible_to(_user("auditor@t.flex"))) == set(
        policies.consents_visible_to(_user("admin@demo.flex"))
    )
