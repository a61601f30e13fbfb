"""A device's MQTT credentials (ADR 0029): issued at registration, shown once, kept only as the broker's hash."""

from __future__ import annotations

from django.db import models


class DeviceCredential(models.Model):
    """The device's account on the MQTT broker: ``username`` is its platform address (``dev-<pk>``, its topic
    segment), ``password_hash`` the Mosquitto password-file hash (PBKDF2-SHA512, ``$7$``) of a password shown
    once. ``manage.py mqtt_acl`` writes the live ones into the broker's password file and ACL."""

    device = models.ForeignKey("accounts.Device", on_delete=models.CASCADE, related_name="credentials")
    username = models.CharField(max_length=64)
    password_hash = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["device", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(revoked_at__isnull=True), name="device_one_live_credential"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} ({'revoked' if self.revoked_at else 'live'})"
