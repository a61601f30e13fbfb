"""Read models for assessment, one module per responsibility:

* ``meters``: who may read or write a meter, its readings, revisions and consumption analysis;
* ``baseline_inputs``: the day grid, excluded days and temperature a baseline is computed from;
* ``metering``: whether a premise's revenue meter is validated, its annual consumption (lent to accounts);
* ``performance``: delivery on past events and the reliability factor;
* ``capacity``: accredited capacity per window, per kept profile and per hour;
* ``flexibility``: device constraints, flexibility profiles and charts for the portals.

Activation's facts (event days, verified events, derate, suspension) come through ``assessment.hooks``.
"""

from .baseline_inputs import (
    baseline_excluded_days,
    meter_day_grid,
    meter_day_grids,
    meter_reading_arrays,
    outage_days,
    temperature_grid,
    temperature_grids,
)
from .capacity import (
    ACCREDITED_QUANT,
    CapacityProfile,
    accredited_capacity_by_zone_hour,
    accredited_capacity_from,
    accredited_capacity_kw,
    accredited_capacity_latest_kw,
    accredited_capacity_latest_many,
    accredited_capacity_latest_with_zone,
    accredited_capacity_over,
    availability_current,
    capacity_profile,
    capacity_profiles,
    hourly_capacity_forecast,
    portfolio_capacity_by_hour,
)
from .flexibility import (
    DEFERRAL_HOURS,
    DEVICE_KIND_CLASS,
    SEGMENT_DEVICES,
    accuracy_report,
    baseline_vs_actual,
    coming_day,
    consumer_meter_charts,
    declarations_current,
    device_constraints_for,
    device_constraints_from,
    flexibility_profile_latest,
    portfolio_flexibility,
    premise_flexibility_summary,
)
from .metering import (
    SETTLEMENT_METER_KINDS,
    MeteringFacts,
    meter_statuses_for,
    meter_validated_since,
    meter_validation_summary,
    premise_annual_kwh,
    premise_meter_validated,
    premise_meter_validation_reasons,
    validated_meter_premise_ids,
)
from .meters import (
    meter_consumption,
    meter_readings,
    meter_visible,
    meters_readable_by,
    meters_window_readings,
    meters_writable_by,
    premises_daily_load,
    reading_revisions,
)
from .performance import PERFORMANCE_EVENTS, performance_history, reliability_factor_for

__all__ = [
    "ACCREDITED_QUANT",
    "DEFERRAL_HOURS",
    "DEVICE_KIND_CLASS",
    "PERFORMANCE_EVENTS",
    "SEGMENT_DEVICES",
    "SETTLEMENT_METER_KINDS",
    "CapacityProfile",
    "MeteringFacts",
    "accredited_capacity_by_zone_hour",
    "accredited_capacity_from",
    "accredited_capacity_kw",
    "accredited_capacity_latest_kw",
    "accredited_capacity_latest_many",
    "accredited_capacity_latest_with_zone",
    "accredited_capacity_over",
    "accuracy_report",
    "availability_current",
    "baseline_excluded_days",
    "baseline_vs_actual",
    "capacity_profile",
    "capacity_profiles",
    "coming_day",
    "consumer_meter_charts",
    "declarations_current",
    "device_constraints_for",
    "device_constraints_from",
    "flexibility_profile_latest",
    "hourly_capacity_forecast",
    "meter_consumption",
    "meter_day_grid",
    "meter_day_grids",
    "meter_reading_arrays",
    "meter_readings",
    "meter_statuses_for",
    "meter_validated_since",
    "meter_validation_summary",
    "meter_visible",
    "meters_readable_by",
    "meters_window_readings",
    "meters_writable_by",
    "outage_days",
    "performance_history",
    "portfolio_capacity_by_hour",
    "portfolio_flexibility",
    "premise_annual_kwh",
    "premise_flexibility_summary",
    "premise_meter_validated",
    "premise_meter_validation_reasons",
    "premises_daily_load",
    "reading_revisions",
    "reliability_factor_for",
    "temperature_grid",
    "temperature_grids",
    "validated_meter_premise_ids",
]
