"""Activation's error codes: the ``code`` of every :class:`flexplatform.errors.ApplicationError` its services
raise (the API's ``{"code": ...}``). Code that branches on a refusal compares with these members, never with a
string literal. A ``StrEnum``: each member is its string, so the API body is unchanged."""

from __future__ import annotations

from enum import StrEnum


class ActivationErrorCode(StrEnum):
    # Event lifecycle
    INVALID_STATE = "invalid_state"  # the event (or stop) is not in a status this change leaves from
    NOT_STARTED = "not_started"
    NOT_ENDED = "not_ended"
    # Creating and calling events
    EMERGENCY_STOP = "emergency_stop"
    NOTICE_TOO_SHORT = "notice_too_short"
    NOT_ENROLLED = "not_enrolled"
    RESOURCE_SUSPENDED = "resource_suspended"
    ABOVE_CAPACITY = "above_capacity"
    CAP_PER_DAY = "cap_per_day"
    CAP_PER_MONTH = "cap_per_month"
    ABOVE_RESERVED = "above_reserved"
    ALREADY_CALLED = "already_called"
    # Verification
    NO_METER = "no_meter"
    METER_DATA_INCOMPLETE = "meter_data_incomplete"
    # OpenADR 3 VTN
    CLIENT_EXISTS = "client_exists"
    VEN_EXISTS = "ven_exists"
    VEN_REGISTERED = "ven_registered"
    RESOURCE_EXISTS = "resource_exists"
    PROGRAM_EXISTS = "program_exists"
    PROGRAM_IN_USE = "program_in_use"
