"""The physical network: sites, lockers (units), compartments (doors), size classes.

Whether a compartment is free is never stored: it is derived from its condition
and from the parcels that hold it (see `CompartmentQuerySet.free`).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone.")


class SizeClass(models.Model):
    """A door size: inner dimensions in millimetres and the heaviest parcel it takes."""

    code = models.SlugField(max_length=8, unique=True)
    name = models.CharField(max_length=40)
    inner_height_mm = models.PositiveIntegerField()
    inner_width_mm = models.PositiveIntegerField()
    inner_depth_mm = models.PositiveIntegerField()
    max_weight_g = models.PositiveIntegerField()

    class Meta:
        ordering = ["inner_height_mm", "inner_width_mm", "inner_depth_mm"]
        verbose_name_plural = "size classes"
        constraints = [
            models.CheckConstraint(
                condition=Q(inner_height_mm__gt=0, inner_width_mm__gt=0, inner_depth_mm__gt=0, max_weight_g__gt=0),
                name="sizeclass_positive_dimensions",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.inner_height_mm}x{self.inner_width_mm}x{self.inner_depth_mm} mm)"

    @property
    def volume_mm3(self) -> int:
        return self.inner_height_mm * self.inner_width_mm * self.inner_depth_mm

    def fits(self, *, dimensions_mm: tuple[int, int, int] | None, weight_g: int | None) -> bool:
        """True if a box of these outer dimensions (any orientation) and weight fits."""
        if weight_g is not None and weight_g > self.max_weight_g:
            return False
        if dimensions_mm is None:
            return True
        inner = sorted((self.inner_height_mm, self.inner_width_mm, self.inner_depth_mm))
        return all(box <= door for box, door in zip(sorted(dimensions_mm), inner, strict=True))


class Site(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", "Public"
        RETAIL_STORE = "retail_store", "Retail store"
        RESIDENTIAL = "residential", "Residential"
        WORKPLACE = "workplace", "Workplace"
        STAFFED_POINT = "staffed_point", "Staffed pickup point"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        MAINTENANCE = "maintenance", "Maintenance"
        DECOMMISSIONED = "decommissioned", "Decommissioned"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PUBLIC)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    address_line = models.CharField(max_length=200)
    city = models.CharField(max_length=80, db_index=True)
    region = models.CharField(max_length=80, blank=True, help_text="State or province.")
    postal_code = models.CharField(max_length=16, db_index=True)
    country = models.CharField(max_length=2, default="US")
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    time_zone = models.CharField(max_length=64, default="America/Chicago", validators=[validate_time_zone])
    always_open = models.BooleanField(default=True)
    # {"mon": [["07:00", "22:00"]], ...}: local wall-clock intervals per weekday.
    opening_hours = models.JSONField(default=dict, blank=True)
    directions = models.TextField(blank=True, help_text="How to find the lockers once on site.")
    pickup_window_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the network's default pickup window at this site."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="site_geo_point_in_range",
            )
        ]
        # Lists in name order (sites; lockers by site name, then locker name) read the first
        # page from this index instead of sorting every site, or every locker joined to its site.
        indexes = [models.Index(fields=["name"], name="site_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def map_url(self) -> str:
        return f"https://www.openstreetmap.org/?mlat={self.latitude}&mlon={self.longitude}#map=18/{self.latitude}/{self.longitude}"

    def is_open_at(self, moment: datetime) -> bool:
        if self.status != self.Status.ACTIVE:
            return False
        if self.always_open:
            return True
        local = moment.astimezone(self.tz)
        day = local.strftime("%a").lower()
        now = local.strftime("%H:%M")
        return any(start <= now < end for start, end in self.opening_hours.get(day, []))


class LockerQuerySet(models.QuerySet):
    def online(self) -> LockerQuerySet:
        return self.filter(last_heartbeat_at__gte=timezone.now() - settings.LOCKER_OFFLINE_AFTER)

    def offline(self) -> LockerQuerySet:
        cutoff = timezone.now() - settings.LOCKER_OFFLINE_AFTER
        return self.filter(Q(last_heartbeat_at__lt=cutoff) | Q(last_heartbeat_at__isnull=True))


class Locker(models.Model):
    """One physical bank of doors with its own controller."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DECOMMISSIONED = "decommissioned", "Decommissioned"

    # Indexed by locker_name_unique_per_site (db_index=False: see parcels.models.Parcel.partner).
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="lockers", db_index=False)
    serial_number = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=60, help_text="Label on the unit, e.g. 'A'.")
    hardware_model = models.CharField(max_length=60, blank=True)
    firmware_version = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Not indexed: every heartbeat writes it, and an indexed column changing makes the
    # update write a new entry in each of the table's indexes instead of a HOT update.
    # "Online" and "offline" select most lockers, which a scan does as fast (15,000: 3 ms).
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Kept by the event batches under the locker's row lock, so a heartbeat reads it with
    # the locker instead of asking for the maximum of its events.
    last_event_sequence = models.BigIntegerField(
        null=True, blank=True, editable=False, help_text="The highest sequence of the events stored for this locker."
    )
    # Written with the last-seen time, by the same statement of every heartbeat.
    last_report = models.JSONField(default=dict, blank=True, help_text="The last heartbeat's sensors and doors.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LockerQuerySet.as_manager()

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="locker_name_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.site.name} / {self.name}"

    @property
    def is_online(self) -> bool:
        return (
            self.last_heartbeat_at is not None
            and self.last_heartbeat_at >= timezone.now() - settings.LOCKER_OFFLINE_AFTER
        )


class CompartmentQuerySet(models.QuerySet):
    def usable(self) -> CompartmentQuerySet:
        """Doors an allocation may consider: in good condition, in a live locker at an active site."""
        return self.filter(
            condition=Compartment.Condition.OK,
            locker__status=Locker.Status.ACTIVE,
            locker__site__status=Site.Status.ACTIVE,
        )

    def with_occupied(self) -> CompartmentQuerySet:
        from parcels.models import Parcel

        # A parcel keeps `compartment` set exactly while it holds the door (a database
        # constraint guarantees it), so "occupied" is simply "some parcel points here".
        return self.annotate(occupied=Exists(Parcel.objects.filter(compartment=OuterRef("pk"))))

    def free(self) -> CompartmentQuerySet:
        """Usable doors that no active parcel holds: what 'free' means.

        Taking a door spells the same out in SQL (`parcels.allocation._first_free_door_sql`,
        planned once per connection); a test runs both on the same doors. Change them together.
        """
        return self.usable().with_occupied().filter(occupied=False)


class Compartment(models.Model):
    class TemperatureZone(models.TextChoices):
        AMBIENT = "ambient", "Ambient"
        CHILLED = "chilled", "Chilled"
        FROZEN = "frozen", "Frozen"

    class Condition(models.TextChoices):
        OK = "ok", "OK"
        OUT_OF_SERVICE = "out_of_service", "Out of service"
        DIRTY = "dirty", "Dirty"
        BROKEN = "broken", "Broken"

    class DoorState(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"

    # Indexed by compartment_label_unique_per_locker (db_index=False: see parcels.models.Parcel.partner).
    locker = models.ForeignKey(Locker, on_delete=models.CASCADE, related_name="compartments", db_index=False)
    label = models.CharField(max_length=12)
    # Indexed by compartment_size_condition.
    size_class = models.ForeignKey(SizeClass, on_delete=models.PROTECT, related_name="compartments", db_index=False)
    column = models.PositiveSmallIntegerField()
    row = models.PositiveSmallIntegerField(help_text="1 is the bottom row.")
    reach_height_mm = models.PositiveIntegerField(help_text="Height of the door's handle above the ground.")
    accessible = models.BooleanField(
        default=False, help_text="Within reach from a wheelchair (handle at most 1220 mm, ADA forward reach)."
    )
    temperature_zone = models.CharField(
        max_length=10, choices=TemperatureZone.choices, default=TemperatureZone.AMBIENT
    )
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.OK)
    door_state = models.CharField(max_length=10, choices=DoorState.choices, default=DoorState.UNKNOWN)
    door_state_at = models.DateTimeField(null=True, blank=True)

    objects = CompartmentQuerySet.as_manager()

    class Meta:
        ordering = ["locker", "column", "row"]
        constraints = [
            models.UniqueConstraint(fields=["locker", "label"], name="compartment_label_unique_per_locker"),
            models.UniqueConstraint(fields=["locker", "column", "row"], name="compartment_position_unique"),
            models.CheckConstraint(condition=Q(column__gte=1, row__gte=1), name="compartment_position_positive"),
        ]
        indexes = [models.Index(fields=["size_class", "condition"], name="compartment_size_condition")]

    def __str__(self) -> str:
        return f"{self.locker} #{self.label}"


# --- device protocol (lockers.device) --------------------------------------------------------


class DeviceCredential(models.Model):
    """A locker's own credential for the signed device API, and what it last reported.

    The secret is kept AES-GCM encrypted under a key derived from CODE_PEPPER (see
    `lockers.device.secrets`): the server needs the secret itself to check HMAC
    signatures, so only encryption keeps a database dump from letting anyone sign.
    """

    locker = models.OneToOneField(Locker, on_delete=models.CASCADE, related_name="device_credential")
    provisioning_token_hash = models.CharField(max_length=64, blank=True)
    provisioning_expires_at = models.DateTimeField(null=True, blank=True)
    secret_encrypted = models.TextField(blank=True)
    # After a rotation the old secret stays valid briefly, for requests already in flight.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    secret_issued_at = models.DateTimeField(null=True, blank=True)
    rotation_requested_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(provisioning_token_hash="") | Q(provisioning_expires_at__isnull=False),
                name="devicecredential_token_expires",
            )
        ]

    def __str__(self) -> str:
        return f"Device credential of {self.locker_id}"


class DeviceNonce(models.Model):
    """Nonces seen in signed requests; the unique pair refuses a replay. Purged after the skew window."""

    # Indexed by devicenonce_unique_per_locker (db_index=False: see parcels.models.Parcel.partner).
    locker = models.ForeignKey(Locker, on_delete=models.CASCADE, related_name="+", db_index=False)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["locker", "nonce"], name="devicenonce_unique_per_locker")]
        indexes = [models.Index(fields=["seen_at"], name="devicenonce_seen")]

    def __str__(self) -> str:
        return f"Nonce {self.nonce} of {self.locker_id}"


class BundleChange(models.Model):
    """A change to what the offline bundles of a site's lockers hold: written by PostgreSQL triggers only.

    Every transaction that changes a waiting parcel (its status, door, code or deadline),
    a pickup code's state or purpose, or a door's locker adds a row for the site it
    touches, in the same transaction (migration 0009): a site's sum of weights grows
    exactly when a change to its bundles commits. The heartbeat keeps each locker's
    bundle version with the sum it was taken at (`BundleDigest`) and takes the digest
    again only when the sum moved. Only inserted, never updated, so writers never wait
    on one another; no foreign key, so an insert takes no lock on the site. Every
    sixteenth change folds its site's rows into one, keeping their sum.
    """

    site_id = models.BigIntegerField()
    weight = models.BigIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["site_id"], name="bundlechange_site")]

    def __str__(self) -> str:
        return f"Bundle change at site {self.site_id} ({self.weight})"


class BundleDigest(models.Model):
    """A locker's last offline-bundle version, with the mark it was taken at (PostgreSQL heartbeats).

    `mark` names what the version depends on: the digest's format, the locker's site,
    the site's `BundleChange` sum and a ten-minute period (lockers.device.bundle). No
    foreign key: a heartbeat writing its row then takes no lock on the locker's row
    beyond its own update's, in no order a deletion could cross; a deleted locker's row
    is an orphan nothing reads (ids are never reused).
    """

    locker_id = models.BigIntegerField(primary_key=True)
    mark = models.CharField(max_length=80)
    version = models.CharField(max_length=20)

    def __str__(self) -> str:
        return f"Bundle {self.version} of {self.locker_id}"


class DeviceEvent(models.Model):
    """What a locker reported happening, stored once per (locker, event id) whatever the retries."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored (no longer allowed)"
        REJECTED = "rejected", "Rejected (invalid)"

    # Indexed by deviceevent_unique_per_locker (db_index=False: see parcels.models.Parcel.partner).
    locker = models.ForeignKey(Locker, on_delete=models.CASCADE, related_name="device_events", db_index=False)
    event_id = models.UUIDField()
    sequence = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    type = models.CharField(max_length=30)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    note = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at", "sequence"]
        constraints = [models.UniqueConstraint(fields=["locker", "event_id"], name="deviceevent_unique_per_locker")]
        indexes = [
            models.Index(fields=["locker", "outcome", "occurred_at", "sequence"], name="deviceevent_queue"),
            models.Index(fields=["locker", "sequence"], name="deviceevent_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.sequence} of locker {self.locker_id}"


class LockerCommand(models.Model):
    """An operator's order to a locker, delivered with the next heartbeat and acknowledged by it.

    The row is also the audit record of the order: who, when, why.
    """

    class Kind(models.TextChoices):
        OPEN_DOOR = "open_door", "Open a door"
        OPEN_DOOR_FOR_LOADING = "open_door_to_load", "Open an empty held door for loading"
        SET_OUT_OF_SERVICE = "set_out_of_service", "Set a door out of service"
        REFRESH_BUNDLE = "refresh_bundle", "Refresh the offline bundle"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"

    # Indexed by lockercommand_pending (db_index=False: see parcels.models.Parcel.partner).
    locker = models.ForeignKey(Locker, on_delete=models.CASCADE, related_name="commands", db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    compartment = models.ForeignKey(Compartment, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=15, choices=State.choices, default=State.QUEUED)
    result = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="refresh_bundle") | Q(compartment__isnull=False),
                name="lockercommand_door_commands_name_a_door",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="lockercommand_reason_given"),
        ]
        indexes = [models.Index(fields=["locker", "state"], name="lockercommand_pending")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.locker_id} ({self.state})"
