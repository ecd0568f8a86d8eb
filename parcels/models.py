"""Parcels, their codes, and their append-only custody log.

The status field is only ever changed by `parcels.lifecycle.apply_transition`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField


class ParcelStatus(models.TextChoices):
    ANNOUNCED = "announced", "Announced"
    RESERVED = "reserved", "Reserved"
    READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
    PICKED_UP = "picked_up", "Picked up"
    EXPIRED = "expired", "Expired"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"
    CANCELLED = "cancelled", "Cancelled"
    RETURN_ANNOUNCED = "return_announced", "Return announced"
    DROPPED_OFF = "dropped_off", "Dropped off"


# A parcel in one of these holds its compartment; the compartment is set exactly then
# (and, briefly, while a return's drop-off door is open).
OCCUPYING_STATUSES = (
    ParcelStatus.RESERVED,
    ParcelStatus.READY_FOR_PICKUP,
    ParcelStatus.EXPIRED,
    ParcelStatus.DROPPED_OFF,
)


class ExceptionReason(models.TextChoices):
    NO_FITTING_COMPARTMENT = "no_fitting_compartment", "No fitting compartment free"
    COMPARTMENT_BROKEN = "compartment_broken", "Compartment broken"
    COMPARTMENT_OCCUPIED = "compartment_occupied", "Compartment occupied"
    PARCEL_TOO_BIG = "parcel_too_big", "Parcel too big for the door"
    SITE_UNAVAILABLE = "site_unavailable", "Site unavailable"
    REDIRECTED = "redirected", "Redirected to another site"
    HOLD_EXPIRED = "hold_expired", "Reservation hold expired"
    PICKUP_DEADLINE_PASSED = "pickup_deadline_passed", "Pickup deadline passed"
    CANCELLED_BY_PARTNER = "cancelled_by_partner", "Cancelled by the partner"


class Actor(models.TextChoices):
    COURIER = "courier", "Courier"
    RECIPIENT = "recipient", "Recipient"
    DEVICE = "device", "Device"
    OPERATOR = "operator", "Operator"
    PARTNER = "partner", "Partner"
    SYSTEM = "system", "System"


class Parcel(models.Model):
    class Kind(models.TextChoices):
        DELIVERY = "delivery", "Delivery"
        CLICK_AND_COLLECT = "click_and_collect", "Click and collect"
        RETURN = "return", "Return"

    class TemperatureNeed(models.TextChoices):
        AMBIENT = "ambient", "Ambient"
        CHILLED = "chilled", "Chilled"
        FROZEN = "frozen", "Frozen"

    OCCUPYING_STATUSES = OCCUPYING_STATUSES

    # A foreign key whose column leads an index or unique constraint of its model gets no
    # index of its own (db_index=False): that one serves its look-ups, and every insert
    # writes one index less. Here parcel_tracking_unique_per_partner.
    partner = models.ForeignKey("carriers.Partner", on_delete=models.PROTECT, related_name="parcels", db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DELIVERY)
    tracking_number = models.CharField(max_length=64)
    external_reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=ParcelStatus.choices, default=ParcelStatus.ANNOUNCED)
    status_reason = models.CharField(max_length=30, choices=ExceptionReason.choices, blank=True)

    recipient_name = models.CharField(max_length=120)
    recipient_phone = PhoneNumberField(blank=True)
    recipient_email = models.EmailField(blank=True)
    recipient_language = models.CharField(max_length=5, choices=settings.LANGUAGES, default="en")

    size_class = models.ForeignKey("lockers.SizeClass", on_delete=models.PROTECT, null=True, blank=True)
    length_mm = models.PositiveIntegerField(null=True, blank=True)
    width_mm = models.PositiveIntegerField(null=True, blank=True)
    height_mm = models.PositiveIntegerField(null=True, blank=True)
    weight_g = models.PositiveIntegerField(null=True, blank=True)
    needs_accessible = models.BooleanField(default=False)
    temperature_need = models.CharField(max_length=10, choices=TemperatureNeed.choices, default=TemperatureNeed.AMBIENT)

    # Indexed by parcel_site_status (db_index=False: see partner).
    site = models.ForeignKey("lockers.Site", on_delete=models.PROTECT, related_name="parcels", db_index=False)
    compartment = models.ForeignKey(
        "lockers.Compartment", on_delete=models.PROTECT, null=True, blank=True, related_name="parcels"
    )
    pickup_code = models.ForeignKey(
        "PickupCode", on_delete=models.SET_NULL, null=True, blank=True, related_name="parcels"
    )
    # Random seed of the recipient's page link; the link token is a keyed function of
    # it (see parcels.codes) and is found again through its keyed hash.
    page_seed = models.CharField(max_length=64, unique=True)
    page_token_hash = models.CharField(max_length=64, unique=True)

    promised_at = models.DateTimeField(
        null=True, blank=True, help_text="When the retailer promised the customer the order would be ready."
    )
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    deposited_at = models.DateTimeField(null=True, blank=True)
    pickup_deadline = models.DateTimeField(null=True, blank=True)
    extensions_used = models.PositiveSmallIntegerField(default=0)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "tracking_number"], name="parcel_tracking_unique_per_partner"),
            # The database's own guard against double occupancy: one parcel per compartment.
            models.UniqueConstraint(
                fields=["compartment"], condition=Q(compartment__isnull=False), name="parcel_one_per_compartment"
            ),
            models.CheckConstraint(
                condition=Q(compartment__isnull=True)
                | Q(status__in=[*OCCUPYING_STATUSES, ParcelStatus.RETURN_ANNOUNCED]),
                name="parcel_compartment_only_while_held",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=OCCUPYING_STATUSES)
                | Q(compartment__isnull=False),
                name="parcel_held_status_has_compartment",
            ),
            models.CheckConstraint(
                condition=Q(kind="return") | ~Q(status__in=[ParcelStatus.RETURN_ANNOUNCED, ParcelStatus.DROPPED_OFF]),
                name="parcel_return_statuses_only_for_returns",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "external_reference"], name="parcel_partner_extref"),
            models.Index(fields=["site", "status"], name="parcel_site_status"),
            models.Index(
                fields=["pickup_deadline"],
                condition=Q(status=ParcelStatus.READY_FOR_PICKUP),
                name="parcel_ready_deadline",
            ),
            models.Index(
                fields=["hold_expires_at"], condition=Q(status=ParcelStatus.RESERVED), name="parcel_reserved_hold"
            ),
            # The retailer's "to load" queue and per-store KPIs read by site and time.
            models.Index(fields=["site", "promised_at"], name="parcel_site_promised"),
            models.Index(fields=["site", "deposited_at"], name="parcel_site_deposited"),
            # Newest first (the default ordering, the admin list) without sorting every parcel.
            models.Index(fields=["created_at"], name="parcel_created"),
            # A partner's parcels in one active status, newest first (partner API list filter).
            # Partial: most parcels are history, so the index stays a few percent of the table.
            models.Index(
                fields=["partner", "status", "id"],
                condition=Q(status__in=[*OCCUPYING_STATUSES, ParcelStatus.ANNOUNCED, ParcelStatus.RETURN_ANNOUNCED]),
                name="parcel_partner_active",
            ),
            # Parcels in one status, newest first (the admin list filtered by status) and their
            # count. Picked-up parcels (95%) are left out: the created_at index finds them at once.
            models.Index(
                fields=["status", "created_at"], condition=~Q(status=ParcelStatus.PICKED_UP),
                name="parcel_status_created",
            ),
            # A store's click-and-collect orders (every store dashboard query) and their pickups by
            # time (store KPIs). Without it the planner ANDs the site index with the partner's
            # 100,000-row index on each KPI query. Partial: store orders are a few percent of parcels.
            models.Index(
                fields=["site", "partner", "picked_up_at"], condition=Q(kind="click_and_collect"),
                name="parcel_store_orders",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} ({self.get_status_display()})"

    @property
    def dimensions_mm(self) -> tuple[int, int, int] | None:
        if self.length_mm and self.width_mm and self.height_mm:
            return (self.length_mm, self.width_mm, self.height_mm)
        return None


class PickupCode(models.Model):
    """A keypad code and a QR token that open the doors of one or more parcels at one site.

    Neither is stored: both are a keyed function (CODE_PEPPER) of `seed`, and look-ups
    go through keyed hashes, so a database dump alone reveals no code.
    """

    class Purpose(models.TextChoices):
        PICKUP = "pickup", "Pickup"
        DROP_OFF = "drop_off", "Drop-off"

    class State(models.TextChoices):
        LIVE = "live", "Live"
        USED = "used", "Used"
        REVOKED = "revoked", "Revoked"

    site = models.ForeignKey("lockers.Site", on_delete=models.CASCADE, related_name="pickup_codes")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.LIVE)
    # No index on the seed, and the QR hash is unique among live codes only: using a code
    # changes its state, so the update writes an entry in every index of the row, and an
    # index entry for a used code serves nothing (docs/performance.md, *Fourteenth pass*).
    # The seed is 256 random bits; two live codes with one seed would share a QR hash,
    # which the live QR constraint refuses.
    seed = models.CharField(max_length=64)
    pin_hash = models.CharField(max_length=64)
    qr_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A typed code must name one set of parcels at its site while it lives.
            models.UniqueConstraint(
                fields=["site", "pin_hash"], condition=Q(state="live"), name="pickupcode_live_pin_unique_per_site"
            ),
            # A scanned code must name one set of parcels while it lives.
            models.UniqueConstraint(fields=["qr_hash"], condition=Q(state="live"), name="pickupcode_live_qr_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} code at {self.site_id} ({self.state})"


class KeypadGuard(models.Model):
    """Wrong-code counters for one locker's keypad, written only under the row's lock (parcels.keypad)."""

    locker = models.OneToOneField("lockers.Locker", on_delete=models.CASCADE, related_name="keypad_guard")
    day = models.DateField(help_text="The locker's local day the counters belong to.")
    failures_today = models.PositiveIntegerField(default=0, help_text="Codes tested and found wrong.")
    refused_today = models.PositiveIntegerField(default=0, help_text="Attempts refused while locked.")
    consecutive_failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Keypad guard for locker {self.locker_id}"


class ParcelEvent(models.Model):
    """Append-only custody record: what happened to a parcel, where, by whom and why."""

    # Indexed by parcelevent_timeline (db_index=False: see Parcel.partner).
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, choices=ParcelStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ParcelStatus.choices, blank=True)
    reason = models.CharField(max_length=30, choices=ExceptionReason.choices, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    site = models.ForeignKey("lockers.Site", on_delete=models.PROTECT, related_name="+")
    # The locker, door and user are indexed only where given (Meta.indexes): most events
    # have no user and many no door, and an index of NULLs serves no look-up yet takes an
    # entry from every event written (docs/performance.md, *Fourteenth pass*).
    locker = models.ForeignKey(
        "lockers.Locker", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    compartment = models.ForeignKey(
        "lockers.Compartment", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    actor = models.CharField(max_length=10, choices=Actor.choices)
    actor_label = models.CharField(max_length=120, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             db_index=False)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["parcel", "occurred_at"], name="parcelevent_timeline"),
            models.Index(fields=["locker"], condition=Q(locker__isnull=False), name="parcelevent_locker_given"),
            models.Index(fields=["compartment"], condition=Q(compartment__isnull=False),
                         name="parcelevent_door_given"),
            models.Index(fields=["user"], condition=Q(user__isnull=False), name="parcelevent_user_given"),
        ]

    def __str__(self) -> str:
        return f"{self.type} of parcel {self.parcel_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class SupportCase(models.Model):
    """A problem a recipient reported from the pickup page, for the operator to handle."""

    class Kind(models.TextChoices):
        DOOR_DID_NOT_OPEN = "door_did_not_open", "The door did not open"
        DAMAGED = "damaged", "The parcel is damaged"
        WRONG_PARCEL = "wrong_parcel", "It is not my parcel"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="support_cases")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField(blank=True, max_length=2000)
    contact = models.CharField(max_length=254, blank=True, help_text="How the recipient wants to be reached.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="supportcase_open_first")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (parcel {self.parcel_id})"
