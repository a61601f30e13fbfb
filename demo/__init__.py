"""The demo: a world of participants with weeks of meter data, one market day through all seven steps, and
``manage.py demo`` / ``manage.py demo_totp``. The top layer beside the portal: nothing in the platform imports it.

Modules: ``world`` (the scenario's constants and the world built through the apps' services), ``devices`` (what
each premise declares, and the MQTT device simulator), ``history`` (synthetic meter data), ``steps`` (the market
day's steps), ``capacity`` (its capacity auction, reservations and their call), ``summary`` (what the day produced, read back).

The names below are importable from ``demo`` itself (``from demo import world_load``). They load on first use:
Django imports this package while the app registry is still filling, before models may be imported.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "world": [
        "AGGREGATOR_LICENCE", "N_COMMERCIAL", "N_INDUSTRIAL", "N_RESIDENTIAL", "AUCTION_DEMAND_SHARE", "AUCTION_GATE_HOURS", "AUCTION_HOURS", "AUCTION_LOCAL_START",
        "AUCTION_PRODUCT", "AUCTION_ZONE", "EVENT_HOURS", "EVENT_LOCAL_START", "FEEDERS", "HISTORY_DAYS",
        "JURISDICTION", "MAX_PRICE", "PASSWORD", "PORTFOLIO_PRICE_RANGE", "PRICE_RANGE", "SUBSTATION_OF",
        "RESERVATION_CALL_NOTICE", "RESERVATION_DEMAND_SHARE", "RESERVATION_HOURS", "RESERVATION_MAX_PRICE",
        "RESERVATION_PRODUCT", "RESERVATION_ZONE", "reservation_window", "TOTP_SECRET", "TZ", "World", "auction_window", "event_window", "local_day_bounds", "market_day",
        "verify_participant", "world_load",
    ],
    "devices": ["DeviceSimulation", "demo_devices", "devices_simulate_finish", "devices_simulate_start"],
    "history": ["day_readings_load", "history_load", "meter_history_load"],
    "summary": ["AuctionSummary", "DayResult", "auction_of_day", "auction_summary", "day_result_summarise"],
    "capacity": ["capacity_auction_of_day", "capacity_auction_run", "reservations_call", "reservations_of_day"],
    "steps": ["day_ahead_auction_run", "market_day_run"],
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'demo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
