"""Demand-response events, the dispatch signals sent for them, and the verification of delivery."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q


class DREvent(models.Model):
    """A demand-response event: a resource asked to reduce load by ``target_kw`` over ``[start, end)``."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        NOTIFIED = "notified", "Notified"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        AWARD = "award", "Market award"
        OPERATOR = "operator", "Operator"
        TRIGGER = "trigger", "Trigger rule"
        EMERGENCY = "emergency", "Emergency"
        CASCADE = "cascade", "Cascade tier"
        RESERVATION = "reservation", "Reservation called"

    award = models.OneToOneField("market.Award", null=True, blank=True, on_delete=models.PROTECT, related_name="event")
    reservation = models.ForeignKey(
        "Reservation", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.AWARD)
    program = models.ForeignKey("Program", null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    cascade = models.ForeignKey("Cascade", null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="events")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="events")
    target_kw = models.DecimalField(max_digits=12, decimal_places=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # What the delivered energy is settled at, and who pays, fixed when the event is created from whatever
    # created it: the award's clearing (or trade) price and buyer, the reservation's energy price and buyer,
    # or the program's energy rate and the zone's operator (operator, emergency, cascade and trigger events).
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    buyer = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="bought_events"
    )
    revised_at = models.DateTimeField(
        null=True, blank=True, help_text="Last change of target or window after creation (OpenADR 3 PUT)."
    )

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["status", "end"], name="event_status_end")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="event_window_order"),
            models.CheckConstraint(condition=Q(target_kw__gt=0), name="event_target_positive"),
            models.UniqueConstraint(
                fields=["cascade", "premise"], condition=Q(cascade__isnull=False), name="event_unique_cascade_premise"
            ),
            # one live call of a reservation per start (a repeated call is refused, not doubled)
            models.UniqueConstraint(
                fields=["reservation", "start"],
                condition=Q(reservation__isnull=False) & ~Q(status="cancelled"),
                name="event_unique_reservation_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Event {self.pk} ({self.status})"


class Reservation(models.Model):
    """Capacity held available for a buyer: a capacity-reservation or ancillary-service award of one resource.

    Paid twice, as the capacity and ancillary products are (PJM Manual 11 §4 synchronized reserve and §3
    regulation: an availability (capability) credit per MW and hour cleared, plus the energy when deployed;
    PJM Manual 18 for capacity-type load management): for availability (reserved kW x hours x availability
    factor x ``availability_price_per_mwh``, i.e. $ per MW per hour held) by the settlement run, and for the
    energy of each call (an event inside the reservation) at ``energy_price_per_mwh``. One reservation per
    award (the market's per-member, per-interval outcome), so creating it twice creates nothing new.
    """

    award = models.OneToOneField("market.Award", on_delete=models.PROTECT, related_name="reservation")
    product = models.CharField(max_length=24)
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="reservations")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="reservations")
    seller = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="sold_reservations")
    buyer = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="bought_reservations")
    reserved_kw = models.DecimalField(max_digits=12, decimal_places=3)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    availability_price_per_mwh = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Availability: $ per MW per hour held (the award's clearing price)."
    )
    energy_price_per_mwh = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="What the energy of a call is paid ($/MWh)."
    )
    notice_minutes = models.PositiveIntegerField(help_text="A call starts at least this long after it is made.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "id"]
        indexes = [models.Index(fields=["zone", "window_end"], name="reservation_zone_end")]
        constraints = [
            models.CheckConstraint(condition=Q(reserved_kw__gt=0), name="reservation_kw_positive"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="reservation_window_order"),
        ]

    def __str__(self) -> str:
        return f"Reservation {self.pk}: {self.reserved_kw} kW {self.product}"


class DispatchSignal(models.Model):
    """The instruction sent to one resource for one event (one per resource and event)."""

    class Channel(models.TextChoices):
        OPENADR = "openadr", "OpenADR 3"
        MQTT = "mqtt", "MQTT"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(DREvent, on_delete=models.PROTECT, related_name="signals")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="signals")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.OPENADR)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "premise"], name="signal_unique_event_premise")]

    def __str__(self) -> str:
        return f"Signal {self.pk} for event {self.event_id}"


class DataSource(models.TextChoices):
    """Where a verification's measured actual (or baseline) came from."""

    METER = "meter", "Meter data"
    VEN_REPORT = "ven_report", "VEN report (OpenADR 3)"
    MIXED = "mixed", "Meter data, VEN report where meter data is missing"


class EventVerification(models.Model):
    """Measured delivery of an event: delivered = baseline - actual, per interval (no negative credit).

    The actual comes from meter data; an interval without meter data (or a resource without a meter) uses the
    usage its VEN reported over OpenADR 3 (``actual_source`` says which). Without a meter the baseline is the
    VEN's reported BASELINE (``baseline`` is then empty and ``baseline_source`` is ``ven_report``).
    """

    event = models.OneToOneField(DREvent, on_delete=models.PROTECT, related_name="verification")
    baseline = models.ForeignKey(
        "assessment.Baseline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actual_source = models.CharField(max_length=16, choices=DataSource.choices, default=DataSource.METER)
    baseline_source = models.CharField(max_length=16, choices=DataSource.choices, default=DataSource.METER)
    baseline_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    actual_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    committed_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    verified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Verification of event {self.event_id}: {self.delivered_kwh} kWh"


class VerificationInterval(models.Model):
    verification = models.ForeignKey(EventVerification, on_delete=models.CASCADE, related_name="intervals")
    start = models.DateTimeField()
    baseline_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    actual_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    actual_source = models.CharField(max_length=16, choices=DataSource.choices, default=DataSource.METER)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["verification", "start"], name="verification_interval_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M} delivered {self.delivered_kwh} kWh"


class Program(models.Model):
    """A demand-response program: its notice time, caps, consequences and compliance rules.

    Parameters follow the published program rules the platform models: notice time and event caps as in
    PJM Manual 18 (Load Management, notification lead times) and CAISO's BIP/ELRP tariffs (max events per
    month), a performance threshold and shortfall penalty as in PJM's Capacity Performance non-performance
    charge (shortfall x penalty rate), derating then suspension after repeated test/event failures (PJM
    Manual 18 §4.3 re-testing; ERCOT ERS "two failures" suspension rule).
    """

    class Kind(models.TextChoices):
        ECONOMIC = "economic", "Economic"
        EMERGENCY = "emergency", "Emergency"

    class OptOutConsequence(models.TextChoices):
        NONE = "none", "No consequence"
        FORFEIT = "forfeit", "Payment forfeited for the event"
        PENALTY = "penalty", "Shortfall penalty as for non-performance"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ECONOMIC)
    notice_minutes = models.PositiveIntegerField(default=60)
    max_events_per_day = models.PositiveSmallIntegerField(default=1)
    max_events_per_month = models.PositiveSmallIntegerField(default=10)
    performance_threshold = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.750"))
    penalty_rate_per_mwh = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    opt_out_consequence = models.CharField(
        max_length=16, choices=OptOutConsequence.choices, default=OptOutConsequence.FORFEIT
    )
    allows_negative_credit = models.BooleanField(default=False)
    derate_after_failures = models.PositiveSmallIntegerField(default=2)
    suspend_after_failures = models.PositiveSmallIntegerField(default=3)
    derate_factor = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.500"))
    energy_rate_per_mwh = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("100.00"),
        help_text="What delivered energy of this program's operator, emergency and cascade events is paid ($/MWh).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Enrollment(models.Model):
    """A premise enrolled in a program, in a cascade tier, with its commitment and compliance standing."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DERATED = "derated", "Derated"
        SUSPENDED = "suspended", "Suspended"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="enrollments")
    tier = models.PositiveSmallIntegerField(default=1)
    response_minutes = models.PositiveSmallIntegerField(default=10)
    committed_kw = models.DecimalField(max_digits=12, decimal_places=3)
    safety_max_kw = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Never dispatched past this reduction, even in an emergency."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    derate = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("1.000"))
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "tier", "premise"]
        constraints = [
            models.UniqueConstraint(fields=["program", "premise"], name="enrollment_unique_program_premise"),
            models.CheckConstraint(condition=Q(committed_kw__gt=0), name="enrollment_kw_positive"),
            models.CheckConstraint(condition=Q(tier__gte=1), name="enrollment_tier_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.premise_id} in {self.program_id} (tier {self.tier})"


class OptOut(models.Model):
    """A consumer's opt-out of an event, before or during it, with the program's consequence recorded."""

    class Phase(models.TextChoices):
        BEFORE = "before", "Before the event"
        DURING = "during", "During the event"

    event = models.OneToOneField(DREvent, on_delete=models.PROTECT, related_name="opt_out")
    user = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    consequence = models.CharField(max_length=16, choices=Program.OptOutConsequence.choices)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Opt-out of event {self.event_id} ({self.phase})"


class EmergencyStop(models.Model):
    """One engagement of the platform-wide emergency stop (the audit row); lifted only by an admin."""

    engaged_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    engaged_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    lifted_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.CharField(max_length=300, blank=True)
    # True while engaged, NULL once lifted: the unique constraint allows one engaged stop at a time.
    engaged = models.BooleanField(null=True, default=True)

    class Meta:
        ordering = ["-engaged_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["engaged"], name="one_engaged_emergency_stop")]

    def __str__(self) -> str:
        return f"Emergency stop {self.pk} ({'lifted' if self.lifted_at else 'engaged'})"


class Cascade(models.Model):
    """A multi-tier dispatch: target kW in a zone, tier 1 first, the next tier when the response falls short."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        MET = "met", "Target met"
        EXHAUSTED = "exhausted", "Tiers exhausted"
        HALTED = "halted", "Halted"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="cascades")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="cascades")
    target_kw = models.DecimalField(max_digits=12, decimal_places=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    current_tier = models.PositiveSmallIntegerField(default=0)
    next_check_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=DREvent.Source.choices, default=DREvent.Source.OPERATOR)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        constraints = [models.CheckConstraint(condition=Q(target_kw__gt=0), name="cascade_target_positive")]

    def __str__(self) -> str:
        return f"Cascade {self.pk} ({self.status})"


class CascadeStep(models.Model):
    """Every step of a cascade: a tier dispatched, a response measured, escalation, the outcome."""

    class Action(models.TextChoices):
        DISPATCH = "dispatch", "Tier dispatched"
        MEASURE = "measure", "Response measured"
        ESCALATE = "escalate", "Escalated"
        MET = "met", "Target met"
        EXHAUSTED = "exhausted", "Tiers exhausted"
        HALTED = "halted", "Halted by emergency stop"

    cascade = models.ForeignKey(Cascade, on_delete=models.CASCADE, related_name="steps")
    tier = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField()
    dispatched_kw = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal("0"))
    measured_kw = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.cascade_id} tier {self.tier}: {self.action}"


class GridSignal(models.Model):
    """One value of the grid-signal feed an operator posts: price, forecast peak load or frequency."""

    class Kind(models.TextChoices):
        PRICE = "price", "Price ($/MWh)"
        FORECAST_LOAD = "forecast_load", "Forecast load (MW)"
        FREQUENCY = "frequency", "Frequency (Hz)"

    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="grid_signals")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="grid_signals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    value = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["zone", "kind", "at"], name="grid_signal_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} @ {self.at:%Y-%m-%d %H:%M}"


class TriggerRule(models.Model):
    """Fires a cascade when a grid signal crosses its threshold (price above, forecast above, frequency below)."""

    kind = models.CharField(max_length=16, choices=GridSignal.Kind.choices)
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="trigger_rules")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="trigger_rules")
    threshold = models.DecimalField(max_digits=14, decimal_places=4)
    target_kw = models.DecimalField(max_digits=12, decimal_places=3)
    duration_minutes = models.PositiveIntegerField(default=60)
    lead_minutes = models.PositiveIntegerField(default=0, help_text="Event start after the signal's time.")
    active = models.BooleanField(default=True)
    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="trigger_rules")

    def __str__(self) -> str:
        return f"{self.kind} rule {self.pk} in {self.zone_id}"

    def crossed(self, value: Decimal) -> bool:
        if self.kind == GridSignal.Kind.FREQUENCY:
            return value < self.threshold
        return value > self.threshold


class TriggerFiring(models.Model):
    """A rule fired by a signal (once per rule and signal)."""

    rule = models.ForeignKey(TriggerRule, on_delete=models.PROTECT, related_name="firings")
    signal = models.ForeignKey(GridSignal, on_delete=models.PROTECT, related_name="firings")
    cascade = models.ForeignKey(Cascade, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "signal"], name="trigger_firing_unique")]

    def __str__(self) -> str:
        return f"Firing of rule {self.rule_id} by signal {self.signal_id}"


class WebhookEndpoint(models.Model):
    """An aggregator's endpoint for signed event notifications."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class OutboxMessage(models.Model):
    """Transactional outbox: a signal written with the event's transaction, sent (and re-sent) until delivered.

    One row per (event, channel, destination): a device (MQTT) or an endpoint (webhook). The unique key makes a
    second dispatch of the same event a no-op; ``message_id`` travels with the message so a device that receives a
    redelivery (QoS 1 is at-least-once) recognises and drops it.
    """

    class Channel(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        NO_ACK = "no_ack", "No acknowledgement by the deadline"
        FAILED = "failed", "Failed (gave up)"
        CANCELLED = "cancelled", "Cancelled"

    event = models.ForeignKey(
        DREvent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outbox",
        help_text="Empty for OpenADR 3 notifications about objects other than events.",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    destination = models.CharField(max_length=500, help_text="Device id (MQTT) or endpoint id (webhook).")
    message_id = models.UUIDField(unique=True)
    topic = models.CharField(max_length=300, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    ack_deadline = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next")]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel", "destination"], name="outbox_unique_destination")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.destination} for event {self.event_id} ({self.status})"


class Telemetry(models.Model):
    """A device's reported power draw (kW) at a moment, consumed from MQTT."""

    device_id = models.CharField(max_length=120)
    premise = models.ForeignKey("accounts.Premise", on_delete=models.CASCADE, related_name="telemetry")
    event = models.ForeignKey(DREvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="telemetry")
    at = models.DateTimeField()
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    baseline_kw = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["event", "premise", "at"], name="telemetry_event_premise_at")]
        constraints = [models.UniqueConstraint(fields=["device_id", "at"], name="telemetry_unique_device_at")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.kw} kW @ {self.at:%H:%M:%S}"


class EventPerformance(models.Model):
    """Reliability indicators of one event for its resource (NERC DADS / PJM load-management performance terms)."""

    event = models.OneToOneField(DREvent, on_delete=models.CASCADE, related_name="performance")
    activated = models.BooleanField(help_text="Acknowledged and delivered at least the program threshold.")
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    duration_compliance = models.DecimalField(max_digits=5, decimal_places=4)
    magnitude_achievement = models.DecimalField(max_digits=6, decimal_places=4)
    available = models.BooleanField(help_text="The resource was available (not opted out, acknowledged).")
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Performance of event {self.event_id}"


class Penalty(models.Model):
    """A non-compliance charge recorded for settlement: shortfall kWh x penalty rate (or an opt-out forfeit)."""

    class Reason(models.TextChoices):
        SHORTFALL = "shortfall", "Delivery below the program threshold"
        OPT_OUT = "opt_out", "Opted out"

    event = models.ForeignKey(DREvent, on_delete=models.PROTECT, related_name="penalties")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="penalties")
    payer = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="penalties")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    shortfall_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    rate_per_mwh = models.DecimalField(max_digits=10, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    delivery_start = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["delivery_start", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "reason"], name="penalty_unique_event_reason")]

    def __str__(self) -> str:
        return f"Penalty {self.amount} for event {self.event_id} ({self.reason})"


class VenClient(models.Model):
    """OAuth 2 client credentials of a VEN (the secret stored as sha256), issued out of band to an organisation.

    The client gets bearer tokens from ``/auth/token`` and registers its own ``ven`` object (``POST /vens``):
    one VEN per client.
    """

    client_id = models.CharField(max_length=128, unique=True)
    secret_hash = models.CharField(max_length=64)
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="ven_clients"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_id


class Ven(models.Model):
    """An OpenADR 3 VEN registered with the VTN, by its client (self-registration) or by the business logic."""

    ven_name = models.CharField(max_length=128, unique=True)
    client = models.OneToOneField(
        VenClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="ven", help_text="Its credentials."
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="vens"
    )
    attributes = models.JSONField(null=True, blank=True)
    targets = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.ven_name


class VenToken(models.Model):
    """A bearer access token issued by ``/auth/token`` to a VEN client (sha256 of the token stored)."""

    client = models.ForeignKey(VenClient, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Token of {self.client_id}"


class VenResource(models.Model):
    """A resource behind a VEN; ``premise`` links it to the platform's resource."""

    ven = models.ForeignKey(Ven, on_delete=models.CASCADE, related_name="resources")
    resource_name = models.CharField(max_length=128)
    premise = models.ForeignKey("accounts.Premise", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attributes = models.JSONField(null=True, blank=True)
    targets = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ven", "resource_name"], name="ven_resource_unique_name")]

    def __str__(self) -> str:
        return self.resource_name


class OadrReport(models.Model):
    """An OpenADR 3 report posted by a VEN for an event."""

    ven = models.ForeignKey(Ven, null=True, on_delete=models.SET_NULL, related_name="reports")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="reports")
    event = models.ForeignKey(DREvent, on_delete=models.PROTECT, related_name="reports")
    client_name = models.CharField(max_length=128)
    report_name = models.CharField(max_length=200, null=True, blank=True)
    payload_descriptors = models.JSONField(null=True, blank=True)
    resources = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Report {self.pk} for event {self.event_id}"


class OadrSubscription(models.Model):
    """An OpenADR 3 subscription: callbacks for operations on programs, events, reports..."""

    ven = models.ForeignKey(Ven, null=True, on_delete=models.CASCADE, related_name="subscriptions")
    client_name = models.CharField(max_length=128)
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="subscriptions")
    object_operations = models.JSONField()
    targets = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Subscription {self.pk} of {self.client_name}"
