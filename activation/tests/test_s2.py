"""S2 (EN 50491-12-2) for batteries (ADR 0039): the platform as the battery's Resource Manager, with s2-python,
against a simulated Customer Energy Manager over real WebSockets. The event becomes PEBC power constraints; the
CEM's instruction acknowledges the command only when it stays inside them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from s2python.pebc import PEBCInstruction, PEBCPowerEnvelope, PEBCPowerEnvelopeElement
from s2python.s2_parser import S2Parser
from s2python.s2_validation_error import S2ValidationError

from accounts.device_services import device_register
from accounts.models import Device
from activation import services
from activation.models import DeviceDispatch, OutboxMessage
from activation.protocols import s2
from activation.s2_cem import SimulatedCEM
from activation.selectors import event_accountable_kw
from flexplatform.errors import ApplicationError

START = datetime(2031, 6, 10, 17, 0, tzinfo=UTC)
END = START + timedelta(hours=2)


def _instruction(constraints, *elements) -> PEBCInstruction:
    return PEBCInstruction(
        message_id=uuid.uuid4(),
        id=uuid.uuid4(),
        execution_time=START,
        abnormal_condition=False,
        power_constraints_id=constraints.id,
        power_envelopes=[
            PEBCPowerEnvelope(
                id="env-1",
                commodity_quantity=s2.QUANTITY,
                power_envelope_elements=[
                    PEBCPowerEnvelopeElement(duration=ms, upper_limit=up, lower_limit=lo) for ms, up, lo in elements
                ],
            )
        ],
    )


def test_the_event_becomes_power_constraints_in_the_s2_sign_convention():
    c = s2.power_constraints(discharge_kw=Decimal("3.5"), rated_kw=Decimal("5"), start=START, end=END)
    assert c.valid_from == START and c.valid_until == END and c.consequence_type.value == "DEFER"
    bounds = {
        r.limit_type.value: (r.range_boundary.start_of_range, r.range_boundary.end_of_range)
        for r in c.allowed_limit_ranges
    }
    assert bounds == {"UPPER_LIMIT": (-5000.0, -3500.0), "LOWER_LIMIT": (-5000.0, -3500.0)}


def test_an_instruction_is_checked_against_the_constraints_element_by_element():
    c = s2.power_constraints(discharge_kw=Decimal("3.5"), rated_kw=Decimal("5"), start=START, end=END)
    hour = 3_600_000
    assert s2.instruction_problems(c, _instruction(c, (2 * hour, -3500.0, -5000.0))) == []
    assert s2.instruction_problems(c, _instruction(c, (hour, -4000.0, -4000.0), (hour, -3500.0, -4500.0))) == []
    problems = s2.instruction_problems(c, _instruction(c, (hour, -3500.0, -5000.0), (hour, -1000.0, -5000.0)))
    assert problems == ["power_envelopes[0].power_envelope_elements[1].upper_limit -1000 W outside [-5000, -3500] W"]
    assert s2.instruction_problems(c, _instruction(c, (hour, -3500.0, -5000.0))) == [
        "power_envelopes[0]: elements cover 3600000 ms of the 7200000 ms window"
    ]
    other = s2.power_constraints(discharge_kw=Decimal("1"), rated_kw=Decimal("5"), start=START, end=END)
    assert "is not" in s2.instruction_problems(c, _instruction(other, (2 * hour, -3500.0, -5000.0)))[0]
    bad = json.loads(c.to_json())
    bad["allowed_limit_ranges"] = bad["allowed_limit_ranges"][:1]  # an upper limit without a lower one
    with pytest.raises(S2ValidationError):  # s2-python's own validation of the message
        S2Parser.parse_as_any_message(json.dumps(bad))


@pytest.mark.parametrize(
    ("behaviour", "status", "error"),
    [
        ("comply", "acknowledged", ""),
        (
            "refuse",
            "rejected",
            "CEM rejected the power constraints (INVALID_CONTENT: battery reserved for backup power)",
        ),
        ("stray", "rejected", "upper_limit 0 W outside [-5000, -3500] W"),
    ],
)
def test_a_session_with_the_energy_manager_over_websockets(behaviour, status, error):
    with SimulatedCEM(behaviour=behaviour) as cem:
        [outcome] = s2.send_battery_commands(
            [
                {
                    "url": cem.url,
                    "device_ref": "dev-9",
                    "discharge_kw": "3.5",
                    "rated_kw": "5",
                    "start": START,
                    "end": END,
                }
            ],
            timeout=5,
        )
    assert outcome.status == status and error in outcome.error
    kinds = [kind for _, kind in cem.received]
    assert kinds[:3] == ["Handshake", "ResourceManagerDetails", "PEBC.PowerConstraints"]
    if behaviour == "comply":  # the RM accepted the CEM's instruction
        assert kinds[3:] == ["InstructionStatusUpdate"] and cem.statuses[0].status_type.value == "ACCEPTED"
        assert cem.statuses[0].instruction_id == cem.instructions[0].id
    else:
        assert cem.statuses == []


def test_an_unreachable_energy_manager_is_a_retry_not_a_refusal():
    [outcome] = s2.send_battery_commands(
        [
            {
                "url": "ws://127.0.0.1:9/s2",
                "device_ref": "dev-9",
                "discharge_kw": "1",
                "rated_kw": "5",
                "start": START,
                "end": END,
            }
        ],
        timeout=2,
    )
    assert outcome.status == "unreachable" and "unreachable" in outcome.error


# --- the platform's path: registry, dispatch, outbox ------------------------------------------------------------


def _battery(premise, url: str) -> Device:
    return device_register(
        premise=premise, name="Home battery", kind="battery", control_channel="s2", channel_address=url,
        rated_kw=Decimal("5"), min_kw=Decimal("0"), max_kw=Decimal("5"), capacity_kwh=Decimal("13.5"),
        soc_min_percent=Decimal("10"), soc_max_percent=Decimal("100"), soc_percent=Decimal("80"),
    )  # fmt: skip


def test_s2_is_registered_for_batteries_with_their_energy_managers_address(act_world):
    premise = act_world.premises[0]
    with pytest.raises(ApplicationError) as exc:
        device_register(
            premise=premise, name="Heat pump", kind="hvac", control_channel="s2", channel_address="ws://cem.home/s2",
            rated_kw=Decimal("3"), max_kw=Decimal("3"),
        )  # fmt: skip
    assert "control_channel" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        _battery(premise, "http://cem.home/s2")
    assert "channel_address" in exc.value.fields
    assert not Device.objects.filter(premise=premise, control_channel="s2").exists()
    assert _battery(premise, "wss://cem.home/s2").control_channel == "s2"


def _event(w, url: str):
    premise = w.premises[0]
    _battery(premise, url)
    w.program.notice_minutes = 0
    w.program.save()
    now = timezone.now()
    event = services.event_create(
        program=w.program, premise=premise, target_kw=Decimal("3"), start=now, end=now + timedelta(hours=1), now=now
    )
    return event, OutboxMessage.objects.get(event=event, channel="s2")


def _flush(now=None):
    return services.outbox_flush(now=now or timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_battery_event_is_acknowledged_by_a_conforming_instruction_and_sent_once(act_world):
    with SimulatedCEM(behaviour="comply") as cem:
        event, row = _event(act_world, cem.url)
        assert row.topic == cem.url and row.payload["command"] == "DISCHARGE_KW" and row.payload["rated_kw"] == "5.000"
        assert DeviceDispatch.objects.get(event=event, channel="s2").shed_kw == Decimal("3.000")
        _flush()
        _flush()  # a second flush (a task delivered twice) sends nothing again
    row.refresh_from_db()
    assert row.status == "acknowledged" and row.acked_at is not None and row.attempts == 1
    assert [k for _, k in cem.received].count("PEBC.PowerConstraints") == 1
    [instruction] = cem.instructions
    element = instruction.power_envelopes[0].power_envelope_elements[0]
    assert (element.upper_limit, element.lower_limit) == (-3000.0, -5000.0)  # discharge at least the 3 kW asked
    assert event_accountable_kw(event) == Decimal("3.000")


@pytest.mark.django_db(transaction=True)
def test_a_refusing_energy_manager_fails_the_command_and_the_shortfall_stays_the_owners(act_world):
    with SimulatedCEM(behaviour="refuse") as cem:
        event, row = _event(act_world, cem.url)
        _flush()
    row.refresh_from_db()
    assert row.status == "failed" and row.last_error.startswith("CEM rejected the power constraints")
    assert event_accountable_kw(event) == Decimal("3.000")  # the owner's system said no: still accountable


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_energy_manager_is_retried_then_not_acknowledged(act_world, settings):
    settings.S2_SESSION_SECONDS = 2
    event, row = _event(act_world, "ws://127.0.0.1:9/s2")
    now = timezone.now()
    _flush(now)
    row.refresh_from_db()
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > now
    assert "unreachable" in row.last_error
    assert event_accountable_kw(event) == Decimal("0.000")  # not delivered yet: the platform's
    _flush(row.ack_deadline + timedelta(seconds=1))
    row.refresh_from_db()
    assert row.status == "no_ack" and row.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_an_energy_manager_on_a_private_address_is_refused_at_registration_and_never_connected(act_world, settings):
    """The egress rule of every URL a user gives us (OWASP SSRF): the cloud metadata address is refused when the
    battery is registered, and a command whose host later resolves to a private address is never sent."""
    settings.CALLBACK_ALLOWED_HOSTS = []
    with pytest.raises(ApplicationError) as exc:
        _battery(act_world.premises[0], "ws://169.254.169.254/s2")
    assert "channel_address" in exc.value.fields
    settings.CALLBACK_ALLOWED_HOSTS = ["127.0.0.1"]
    with SimulatedCEM(behaviour="comply") as cem:
        event, row = _event(act_world, cem.url)
        settings.CALLBACK_ALLOWED_HOSTS = []  # as if the name now resolved somewhere private
        _flush()
    row.refresh_from_db()
    assert row.status == "failed" and row.last_error.startswith("S2 address refused") and cem.received == []
    assert event_accountable_kw(event) == Decimal("0.000")  # never sent: the platform's shortfall, not the owner's
