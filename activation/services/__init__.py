"""Write services for activation, one module per responsibility:

* ``awards``: market awards into events or reservations (``award_activate``, in chunks ``awards_activate``, the
  catch-up sweep)
* ``reservations``: capacity and ancillary reservations and the buyer's calls of them
* ``programs``: programs and enrollments
* ``event_rules``: what an event must meet to be created (window, notice, per-day and per-month caps)
* ``events``: creating, dispatching, advancing, cancelling and opting out of events
* ``lifecycle``: the event status machine; every status change is written there
* ``dispatch``: the bulk dispatch write (signals, device commands, webhooks, notifications) of many events
* ``emergency_stop`` and ``emergency``: the platform-wide stop; emergency events in a zone
* ``cascades`` and ``grid_signals``: tiered dispatch to a zone target; the feed and trigger rules that start it
* ``verification``, ``performance`` and ``penalties``: delivered energy, reliability and compliance, penalties
* ``outbox`` and ``outbox_delivery``: the transactional outbox every sender writes to, and its delivery
* ``openadr_notifications``: OpenADR 3 subscription notifications (through the outbox)
* ``device_reports``: device acknowledgements and telemetry

The names below are the public API other modules import from ``activation.services``.
"""

from .awards import (
    award_activate,
    award_chunks,
    awards_activate,
    awards_activate_pending,
    event_create_for_award,
    events_create_for_awards,
)
from .cascades import cascade_evaluate, cascade_start, cascades_evaluate_due
from .device_overrides import device_override
from .device_reports import acks_overdue_mark, device_ack_record, device_acks_record, telemetry_record
from .dispatch import events_dispatch_locked, openadr_event_payload
from .emergency import EMERGENCY_CHUNK, emergency_event_create
from .emergency_stop import emergency_stop_active, emergency_stop_engage, emergency_stop_lift
from .event_rules import event_caps_check, event_window_check, premises_over_caps
from .events import (
    event_activate,
    event_cancel,
    event_complete,
    event_create,
    event_dispatch,
    event_opt_out,
    events_advance,
    events_dispatch_pending,
)
from .grid_signals import grid_signal_post
from .lifecycle import EVENT_TRANSITIONS, event_move, events_move
from .ocpp_commands import ocpp_command_result, ocpp_commands_due
from .openadr_notifications import notify, notify_event
from .outbox import OutboxRow, outbox_flush_on_commit, outbox_insert, outbox_put, webhook_endpoint_create
from .outbox_delivery import mqtt_results_mark, outbox_flush
from .penalties import penalty_rate_per_mwh, penalty_record
from .performance import event_performance_record
from .programs import (
    EMERGENCY_PROGRAM_CODE,
    MARKET_PROGRAM_CODE,
    enrollment_create,
    market_enrol,
    market_program,
    program_create,
)
from .reservations import reservation_call, reservation_create_for_award
from .verification import event_verify, events_due_for_verification, events_verify, events_verify_due

__all__ = [
    "device_override",
    "ocpp_command_result",
    "ocpp_commands_due",
    "EMERGENCY_CHUNK",
    "EMERGENCY_PROGRAM_CODE",
    "EVENT_TRANSITIONS",
    "MARKET_PROGRAM_CODE",
    "OutboxRow",
    "acks_overdue_mark",
    "award_activate",
    "award_chunks",
    "awards_activate",
    "awards_activate_pending",
    "cascade_evaluate",
    "cascade_start",
    "cascades_evaluate_due",
    "device_ack_record",
    "device_acks_record",
    "emergency_event_create",
    "emergency_stop_active",
    "emergency_stop_engage",
    "emergency_stop_lift",
    "enrollment_create",
    "event_activate",
    "event_cancel",
    "event_caps_check",
    "event_complete",
    "event_create",
    "event_create_for_award",
    "events_create_for_awards",
    "event_dispatch",
    "event_move",
    "event_opt_out",
    "event_performance_record",
    "event_verify",
    "event_window_check",
    "events_advance",
    "events_dispatch_locked",
    "events_dispatch_pending",
    "events_move",
    "events_due_for_verification",
    "events_verify",
    "events_verify_due",
    "grid_signal_post",
    "market_enrol",
    "market_program",
    "mqtt_results_mark",
    "notify",
    "notify_event",
    "openadr_event_payload",
    "outbox_flush",
    "outbox_flush_on_commit",
    "outbox_insert",
    "outbox_put",
    "penalty_rate_per_mwh",
    "penalty_record",
    "premises_over_caps",
    "program_create",
    "reservation_call",
    "reservation_create_for_award",
    "telemetry_record",
    "webhook_endpoint_create",
]
