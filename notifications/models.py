"""Recipient notification outbox: rows written in the same transaction as the parcel change."""

from __future__ import annotations

from django.db import models


class Notification(models.Model):
    class Kind(models.TextChoices):
        PARCEL_READY = "parcel_ready", "Parcel ready"
        PICKUP_REMINDER = "pickup_reminder", "Reminder before the deadline"
        EXPIRING_TODAY = "expiring_today", "Expiring today"
        EXPIRED = "expired", "Expired and returned"
        PICKED_UP = "picked_up", "Picked up (receipt)"
        RETURN_CODE = "return_code", "Return drop-off code"
        REDIRECTED = "redirected", "Redirect confirmed"
        EXTENDED = "extended", "Extension confirmed"

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed (opted out)"

    parcel = models.ForeignKey("parcels.Parcel", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="Phone number (E.164) or email address.")
    language = models.CharField(max_length=5, default="en")
    # Distinguishes a deliberate second message of one kind (a new code, a second reminder).
    dedupe_key = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # No duplicate message per event and channel, whatever retries or races happen.
            models.UniqueConstraint(
                fields=["parcel", "kind", "channel", "dedupe_key"], name="notification_once_per_event"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.channel} to {self.address}"
