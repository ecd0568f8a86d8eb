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

    # Indexed by partner_member_unique (db_index=False: see parcels.models.Parcel.partner).
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members", db_index=False)
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
    # Indexed by partnerevent_partner_time (db_index=False: see parcels.models.Parcel.partner).
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=60)
    occurred_at = models.DateTimeField()
    payload = models.JSONField()

    class Meta:
        ordering = ["occurred_at"]
        indexes = [models.Index(fields=["partner", "occurred_at"], name="partnerevent_partner_time")]

    def __str__(self) -> str:
        return f"{self.type} for {self.partner_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ApiKeyQuerySet(models.QuerySet):
    def live(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True, partner__is_active=True)


class ApiKey(models.Model):
    """A partner's credential for the partner API; only a SHA-256 of the key is kept.

    The key is 32 random bytes, so a plain (unsalted, fast) hash is enough: nobody can
    brute-force it from the hash, and a hash lets the look-up be one indexed query.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        WEBHOOKS = "webhooks", "Webhooks"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80, help_text="What the key is for, e.g. 'production checkout'.")
    prefix = models.CharField(
        max_length=16, unique=True, help_text="The first characters of the key, shown to tell keys apart."
    )
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}, {self.partner})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyKey(models.Model):
    """The first answer to a partner's write request carrying an `Idempotency-Key` header.

    A row is claimed (state in-progress) and committed before the work runs, so a
    second request with the same key finds it whatever the business transaction does.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    # Indexed by idempotency_key_unique_per_partner (db_index=False: see parcels.models.Parcel.partner).
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="idempotency_keys", db_index=False)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rendered JSON, kept as text so a replay is byte for byte the first answer.
    response_body = models.TextField(blank=True, default="")
    response_content_type = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="idempotency_key_unique_per_partner")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state}) for {self.partner_id}"


class WebhookEndpoint(models.Model):
    """Where a partner wants its events POSTed; an empty `event_types` means every type."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    # Kept in clear: it is the HMAC key that signs every delivery. Shown once at creation.
    secret = models.CharField(max_length=80)
    event_types = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({self.partner})"

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One event to send to one endpoint, retried with backoff until delivered or failed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # Indexed by webhook_delivery_once (db_index=False: see parcels.models.Parcel.partner).
    event = models.ForeignKey(PartnerEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker sending this delivery holds it until then; another worker skips it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP try of a delivery, kept for the partner and the operators to read."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
