"""What each registered device was commanded for an event (ADR 0029): the record that event limits count, that
M&V compares delivery against, and that the owner's opt-out from one device is kept on."""

from __future__ import annotations

from django.db import models

from .events import DREvent


class DeviceDispatch(models.Model):
    """One device's command for one event, whatever its channel (MQTT, OCPP, OpenADR VEN, vendor API, manual).

    ``shed_kw`` is what the allocation rule asked of the device (``activation.devices.translate``); the
    acknowledgement lives with the channel (the outbox row for MQTT/OCPP/webhook, the VEN's report for OpenADR).
    ``opted_out_at``: the owner overrode the command for this device (recorded, counted as the owner's choice)."""

    # The unique (event, device) and the budget index (device, local_day) serve lookups by event and by device:
    # no single-column index of their own (two indexes less to write per command, 10,000 per emergency call).
    # The event and the premise have no database foreign-key constraint (ADR 0052): each checked row cost a
    # deferred trigger query at COMMIT (10,000 commands, 20,000 queries), and both are held by construction: the
    # row is written only by ``events_dispatch_locked`` in the transaction that created or locked its event (events
    # are never deleted), and its premise is the event's own (``DREvent.premise`` keeps its constraint). The device
    # keeps its constraint: a device row is not locked by the dispatch, and the constraint is what stops its
    # deletion racing a command written for it.
    event = models.ForeignKey(
        DREvent, on_delete=models.PROTECT, related_name="device_dispatches", db_index=False, db_constraint=False
    )
    device = models.ForeignKey("accounts.Device", on_delete=models.PROTECT, related_name="dispatches", db_index=False)
    premise = models.ForeignKey(
        "accounts.Premise", on_delete=models.PROTECT, related_name="device_dispatches", db_constraint=False
    )
    channel = models.CharField(max_length=12)
    kind = models.CharField(max_length=20)
    command = models.CharField(max_length=32)
    value = models.DecimalField(max_digits=10, decimal_places=3)
    shed_kw = models.DecimalField(max_digits=10, decimal_places=3)
    local_day = models.DateField(help_text="The event's local start day at the premise (event budget per day).")
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["event", "device"]
        constraints = [
            models.UniqueConstraint(fields=["event", "device"], name="device_dispatch_once_per_event"),
            models.CheckConstraint(condition=models.Q(shed_kw__gte=0), name="device_dispatch_shed_nonnegative"),
        ]
        indexes = [models.Index(fields=["device", "local_day"], name="device_dispatch_budget")]

    def __str__(self) -> str:
        return f"{self.command} {self.value} to device {self.device_id} for event {self.event_id}"
