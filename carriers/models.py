"""Partners: the organisations that put parcels into the network, and their people."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Partner(models.Model):
    class Kind(models.TextChoices):
        CARRIER = "carrier", "Carrier"
        RETAILER = "retailer", "Retailer"

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    contact_email = models.EmailField(blank=True)
    pickup_window_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the network's default pickup window for this partner."
    )
    stores = models.ManyToManyField(
        "lockers.Site",
        blank=True,
        related_name="retailers",
        help_text="Retail store sites this retailer runs click-and-collect from.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerMember(models.Model):
    """A person who works for a partner and logs in as a Django user."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Partner admin"
        DISPATCHER = "dispatcher", "Dispatcher"
        RETAIL_MANAGER = "retail_manager", "Retail manager"
        STORE_ASSOCIATE = "store_associate", "Store associate"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    stores = models.ManyToManyField(
        "lockers.Site", blank=True, help_text="For store associates: the stores they work at."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "user"], name="partner_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} at {self.partner} ({self.get_role_display()})"


class CourierCredential(models.Model):
    """What a courier types or badges at a locker; the PIN is kept only as a keyed hash."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="courier_credentials")
    courier_name = models.CharField(max_length=120)
    badge_number = models.CharField(max_length=32)
    pin_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="courier_credentials"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["badge_number"], name="courier_badge_unique"),
            models.CheckConstraint(condition=~Q(pin_hash=""), name="courier_pin_hash_set"),
        ]

    def __str__(self) -> str:
        return f"{self.courier_name} ({self.partner}, badge {self.badge_number})"


class PartnerEvent(models.Model):
    """Outbox of what a partner must be told (a webhook event), written with the change itself.

    The partner API's webhook delivery reads from here; the id is the event id that
    receivers de-duplicate by.
    """

    id = models.UUIDField(primary_key=True)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=60)
    occurred_at = models.DateTimeField()
    payload = models.JSONField()

    class Meta:
        ordering = ["occurred_at"]
        indexes = [models.Index(fields=["partner", "occurred_at"], name="partnerevent_partner_time")]

    def __str__(self) -> str:
        return f"{self.type} for {self.partner_id} at {self.occurred_at:%Y-%m-%d %H:%M}"
