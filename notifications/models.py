"""Recipient notification outbox: rows written in the same transaction as the parcel change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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

    # Indexed by notification_once_per_event (db_index=False: see parcels.models.Parcel.partner).
    parcel = models.ForeignKey("parcels.Parcel", on_delete=models.CASCADE, related_name="notifications",
                               db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="Phone number (E.164) or email address.")
    language = models.CharField(max_length=5, default="en")
    # Distinguishes a deliberate second message of one kind (a new code, a second reminder).
    dedupe_key = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The claim: a worker owns the row until `claimed_until`; a worker that dies
    # mid-send lets the lease run out and another worker sends again (at least once).
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
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


class NotificationAttempt(models.Model):
    """One try at handing a notification to its channel, kept for the operator."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    provider_id = models.CharField(max_length=120, blank=True, help_text="The gateway's message id.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["notification", "number"]

    def __str__(self) -> str:
        return f"Attempt {self.number} of notification {self.notification_id}: {self.outcome}"


class OptOut(models.Model):
    """A recipient's address that must not be sent to on one channel (STOP, or a setting)."""

    class Source(models.TextChoices):
        SMS_STOP = "sms_stop", "SMS reply STOP"
        PROFILE = "profile", "Account settings"
        OPERATOR = "operator", "Operator"

    channel = models.CharField(max_length=10, choices=Notification.Channel.choices)
    address = models.CharField(max_length=254, help_text="E.164 phone number or lower-case email address.")
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "address"], name="optout_once_per_address")]

    def __str__(self) -> str:
        return f"No {self.channel} to {self.address}"


class RecipientProfile(models.Model):
    """A signed-up recipient's preferred site and language, and the phone they verified.

    Channel choices are not stored here: turning a channel off writes an `OptOut` for
    the user's address, the one place delivery looks.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recipient_profile")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164 phone number for SMS.")
    phone_verified = models.BooleanField(default=False)
    preferred_site = models.ForeignKey(
        "lockers.Site", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=Q(phone_verified=True), name="profile_verified_phone_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Recipient profile of {self.user}"
