"""Input and output shapes of the partner API. Inputs are plain serializers, bounded so
that no value a client sends can overflow a column or a computation (no 500s).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from carriers.models import WebhookDelivery, WebhookEndpoint
from carriers.selectors import SiteHit
from carriers.webhooks import EVENT_TYPES
from lockers.models import Compartment, Site, SizeClass
from lockers_site.api_helpers import MAX_ID
from parcels.models import Parcel, ParcelEvent, ParcelStatus

MAX_MM = 10_000
MAX_G = 1_000_000


class SiteIdField(serializers.IntegerField):
    """A site id in a body; an unknown id is a field error, not a 404 or a 500."""

    def to_internal_value(self, data: Any) -> Site:
        site_id = super().to_internal_value(data)
        site = Site.objects.filter(pk=site_id).first() if 1 <= site_id <= MAX_ID else None
        if site is None:
            raise serializers.ValidationError("No site has this id.")
        return site


# --- sites ---------------------------------------------------------------------------------


class SiteSearchQuery(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    radius_km = serializers.FloatField(min_value=0.1, max_value=100, default=5)
    city = serializers.CharField(max_length=80, required=False)
    postal_code = serializers.CharField(max_length=16, required=False)
    open_now = serializers.BooleanField(default=False)
    accessible = serializers.BooleanField(default=False)
    temperature_zone = serializers.ChoiceField(choices=Compartment.TemperatureZone.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lat" in attrs) != ("lon" in attrs):
            raise serializers.ValidationError({"lat": "Give both lat and lon, or neither."})
        return attrs


class PublicSiteSearchQuery(serializers.Serializer):
    q = serializers.CharField(max_length=80, min_length=2, help_text="Postal code, city, street or site name.")
    size = serializers.SlugField(
        max_length=8, required=False, help_text="Only sites with a free door this size or larger."
    )
    radius_km = serializers.FloatField(min_value=0.1, max_value=50, default=5)


class SiteOut(serializers.Serializer):
    id = serializers.IntegerField(source="site.pk")
    code = serializers.CharField(source="site.code")
    name = serializers.CharField(source="site.name")
    kind = serializers.CharField(source="site.kind")
    address_line = serializers.CharField(source="site.address_line")
    city = serializers.CharField(source="site.city")
    region = serializers.CharField(source="site.region")
    postal_code = serializers.CharField(source="site.postal_code")
    country = serializers.CharField(source="site.country")
    latitude = serializers.FloatField(source="site.latitude")
    longitude = serializers.FloatField(source="site.longitude")
    time_zone = serializers.CharField(source="site.time_zone")
    always_open = serializers.BooleanField(source="site.always_open")
    opening_hours = serializers.DictField(
        source="site.opening_hours",
        child=serializers.ListField(child=serializers.ListField(child=serializers.CharField())),
        help_text='Local intervals per weekday, e.g. {"mon": [["07:00", "22:00"]]}.',
    )
    directions = serializers.CharField(source="site.directions")
    free_by_size = serializers.DictField(
        child=serializers.IntegerField(), help_text="Free doors now per size code, for the sizes the site has."
    )
    distance_km = serializers.FloatField(allow_null=True)

    def to_representation(self, instance: SiteHit) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data["distance_km"] is not None:
            data["distance_km"] = round(data["distance_km"], 3)
        return data


class PublicSiteOut(serializers.Serializer):
    """What the checkout widget may show to anyone: no directions, no hours detail."""

    id = serializers.IntegerField(source="site.pk")
    code = serializers.CharField(source="site.code")
    name = serializers.CharField(source="site.name")
    address = serializers.SerializerMethodField()
    latitude = serializers.FloatField(source="site.latitude")
    longitude = serializers.FloatField(source="site.longitude")
    always_open = serializers.BooleanField(source="site.always_open")
    free_by_size = serializers.DictField(child=serializers.IntegerField())
    distance_km = serializers.FloatField(allow_null=True)

    def get_address(self, hit: SiteHit) -> str:
        site = hit.site
        return f"{site.address_line}, {site.postal_code} {site.city}"


class SiteSearchOut(serializers.Serializer):
    results = SiteOut(many=True)


class PublicSiteSearchOut(serializers.Serializer):
    results = PublicSiteOut(many=True)


# --- parcels -------------------------------------------------------------------------------


class RecipientIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    phone = PhoneNumberField(required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("phone") and not attrs.get("email"):
            raise serializers.ValidationError("Give the recipient's phone or email, so they get their code.")
        attrs["phone"] = str(attrs["phone"]) if attrs.get("phone") else ""
        return attrs


class ItemIn(serializers.Serializer):
    size_class = serializers.SlugRelatedField(slug_field="code", queryset=SizeClass.objects.all(), required=False)
    length_mm = serializers.IntegerField(min_value=1, max_value=MAX_MM, required=False)
    width_mm = serializers.IntegerField(min_value=1, max_value=MAX_MM, required=False)
    height_mm = serializers.IntegerField(min_value=1, max_value=MAX_MM, required=False)
    weight_g = serializers.IntegerField(min_value=1, max_value=MAX_G, required=False)
    needs_accessible = serializers.BooleanField(default=False)
    temperature_need = serializers.ChoiceField(choices=Parcel.TemperatureNeed.choices, default="ambient")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        dims = [attrs.get(name) for name in ("length_mm", "width_mm", "height_mm")]
        if any(dims) and not all(dims):
            raise serializers.ValidationError("Give all three dimensions, or none.")
        if "size_class" not in attrs and not all(dims):
            raise serializers.ValidationError("Give a size_class or the three dimensions.")
        return attrs


class ParcelAnnounceIn(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=64)
    external_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(
        choices=[Parcel.Kind.DELIVERY, Parcel.Kind.CLICK_AND_COLLECT], default=Parcel.Kind.DELIVERY
    )
    site_id = SiteIdField()
    recipient = RecipientIn()
    item = ItemIn()
    reserve = serializers.BooleanField(default=False, help_text="Hold a fitting door now (409 if none is free).")


class ReturnAnnounceIn(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=64)
    external_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    site_id = SiteIdField()
    recipient = RecipientIn()
    item = ItemIn()


class ParcelRedirectIn(serializers.Serializer):
    site_id = SiteIdField()


class ParcelExtendIn(serializers.Serializer):
    hours = serializers.IntegerField(
        min_value=1, max_value=30 * 24, required=False, help_text="Defaults to the network's extension."
    )


class ParcelListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=ParcelStatus.choices, required=False)
    site = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    updated_since = serializers.DateTimeField(required=False)
    external_reference = serializers.CharField(max_length=100, required=False)
    tracking_number = serializers.CharField(max_length=64, required=False)


class ReferenceIn(serializers.Serializer):
    """A path's external reference, checked like a body field (no NUL bytes, bounded)."""

    reference = serializers.CharField(max_length=100)


class ParcelOut(serializers.ModelSerializer):
    site_id = serializers.IntegerField()
    size_class = serializers.SlugRelatedField(slug_field="code", read_only=True)
    compartment = serializers.CharField(source="compartment.label", allow_null=True, default=None)
    recipient_phone = serializers.CharField(help_text="E.164, or empty.")
    recipient_email = serializers.CharField(help_text="An email address, or empty.")
    status_reason = serializers.CharField(help_text="Why the parcel is in its status (empty if unremarkable).")

    class Meta:
        model = Parcel
        fields = [
            "id", "tracking_number", "external_reference", "kind", "status", "status_reason", "site_id",
            "compartment", "recipient_name", "recipient_phone", "recipient_email", "recipient_language",
            "size_class", "length_mm", "width_mm", "height_mm", "weight_g", "needs_accessible", "temperature_need",
            "hold_expires_at", "deposited_at", "pickup_deadline", "extensions_used", "picked_up_at",
            "created_at", "updated_at",
        ]
        read_only_fields = fields


# One instance for every single-parcel answer, as a list reuses its child: building a model
# serializer's fields is most of what it costs (0.42 of 0.51 ms a parcel). ParcelOut's
# fields read nothing of a request, so one built set serves every request and thread.
_ONE_PARCEL_OUT = ParcelOut()


def parcel_out(parcel: Parcel) -> dict[str, Any]:
    """The partner API's view of one parcel (`ParcelOut`)."""
    return _ONE_PARCEL_OUT.to_representation(parcel)


class TimelineEventOut(serializers.ModelSerializer):
    from_status = serializers.CharField(help_text="Empty for the event that created the parcel.")
    to_status = serializers.CharField()
    reason = serializers.CharField()

    class Meta:
        model = ParcelEvent
        fields = ["type", "from_status", "to_status", "reason", "occurred_at", "site_id", "locker_id",
                  "compartment_id", "actor"]
        read_only_fields = fields


class DropOffCodeOut(serializers.Serializer):
    parcel_id = serializers.IntegerField()
    site_id = serializers.IntegerField()
    pin = serializers.CharField(help_text="Typed on the locker keypad.")
    qr_token = serializers.CharField(help_text="Encode as a QR code for the locker's scanner.")


class ReturnOut(serializers.Serializer):
    parcel = ParcelOut()
    dropoff_code = DropOffCodeOut()


class StatusOut(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    terminal = serializers.BooleanField()


# --- webhooks ------------------------------------------------------------------------------


class WebhookEndpointIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, default=list, max_length=len(EVENT_TYPES),
        help_text="Empty: every event type.",
    )


class WebhookEndpointOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "event_types", "is_active", "created_at"]
        read_only_fields = fields


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret = serializers.CharField(help_text="Shown only now: the key that signs deliveries.")

    class Meta(WebhookEndpointOut.Meta):
        fields = [*WebhookEndpointOut.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookDeliveryOut(serializers.ModelSerializer):
    event_id = serializers.UUIDField()
    event_type = serializers.CharField(source="event.type")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "created_at",
                  "delivered_at"]
        read_only_fields = fields
