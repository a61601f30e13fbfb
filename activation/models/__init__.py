"""Activation models, one module per area; every model is importable from ``activation.models``."""

from .cascades import Cascade, CascadeStep, GridSignal, TriggerFiring, TriggerRule
from .devices import DeviceDispatch
from .events import DispatchSignal, DREvent, OptOut, Reservation
from .openadr import OadrEvent, OadrReport, OadrSubscription, Ven, VenClient, VenResource, VenToken
from .outbox import OutboxMessage, Telemetry, WebhookEndpoint
from .programs import EmergencyStop, Enrollment, Program
from .verification import DataSource, EventPerformance, EventVerification, Penalty, VerificationInterval

__all__ = [
    "DeviceDispatch",
    "DREvent",
    "Reservation",
    "DispatchSignal",
    "OptOut",
    "DataSource",
    "EventVerification",
    "VerificationInterval",
    "EventPerformance",
    "Penalty",
    "Program",
    "Enrollment",
    "EmergencyStop",
    "Cascade",
    "CascadeStep",
    "GridSignal",
    "TriggerRule",
    "TriggerFiring",
    "WebhookEndpoint",
    "OutboxMessage",
    "Telemetry",
    "VenClient",
    "Ven",
    "VenToken",
    "VenResource",
    "OadrEvent",
    "OadrReport",
    "OadrSubscription",
]
