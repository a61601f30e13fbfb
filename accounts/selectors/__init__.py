"""Read models for participants, one module per responsibility:

* ``participants``: who a user is (memberships, portal role) and what they may see;
* ``zones``: the grid-zone hierarchy and each zone's jurisdiction;
* ``participation``: consents and enrolments in force, the premises an organisation represents;
* ``verification``: KYC/KYB cases;
* ``compliance``: the compliance rules per participant, the trading gate, enrolment eligibility.

The market's offer gate (validated meter, accredited capacity, aggregation minimum) is not here:
``market.services.gates``.
"""

from .compliance import (
    TradingStatus,
    aggregator_compliance_summary,
    aggregator_facts,
    compliance_status,
    enrolment_eligibility,
    organisation_compliance,
    organisation_trading_status,
    organisations_trading_status,
    premise_facts,
    verified_resources_for,
)
from .participants import (
    READ_ALL_ROLES,
    ROLE_ORDER,
    operator_zone_ids,
    premises_visible_to,
    user_memberships,
    user_organisations,
    user_role,
)
from .participation import (
    consents_active,
    enrolments_active,
    premises_represented_by,
    premises_represented_by_consumers,
)
from .verification import current_verification
from .zones import (
    ZoneIndex,
    grid_zone_by_code,
    grid_zones,
    zone_index,
    zone_jurisdiction,
    zone_jurisdiction_map,
    zone_with_descendant_ids,
)

__all__ = [
    "READ_ALL_ROLES",
    "ROLE_ORDER",
    "TradingStatus",
    "ZoneIndex",
    "aggregator_facts",
    "aggregator_compliance_summary",
    "compliance_status",
    "consents_active",
    "current_verification",
    "enrolment_eligibility",
    "enrolments_active",
    "grid_zone_by_code",
    "grid_zones",
    "operator_zone_ids",
    "organisation_compliance",
    "organisation_trading_status",
    "organisations_trading_status",
    "premise_facts",
    "premises_represented_by",
    "premises_represented_by_consumers",
    "premises_visible_to",
    "user_memberships",
    "user_organisations",
    "user_role",
    "verified_resources_for",
    "zone_index",
    "zone_jurisdiction",
    "zone_jurisdiction_map",
    "zone_with_descendant_ids",
]
