"""Events, the dispatch signal sent for each, the reservations events are called from, and opt-outs."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from .programs import Program


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
    oadr_spec = models.JSONField(
        null=True,
        blank=True,
        help_text="The OpenADR 3 event object as the business logic gave it (every interval and payload).",
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

    # signal_unique_event_premise (event, premise) serves lookups by event: one index less to write per signal.
    # No database foreign-key constraint on the event and its premise (ADR 0052): written only in the transaction
    # that holds the event (events are never deleted), and the premise is the event's, which keeps its constraint.
    event = models.ForeignKey(
        DREvent, on_delete=models.PROTECT, related_name="signals", db_index=False, db_constraint=False
    )
    premise = models.ForeignKey(
        "accounts.Premise", on_delete=models.PROTECT, related_name="signals", db_constraint=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.OPENADR)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "premise"], name="signal_unique_event_premise")]

    def __str__(self) -> str:
        return f"Signal {self.pk} for event {self.event_id}"


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
