"""Input shapes of the device API: plain serializers, cheap enough for the hot path."""

from __future__ import annotations

from rest_framework import serializers

from lockers.models import Compartment
from lockers.services import MAX_COMPARTMENTS_PER_LOCKER
from lockers_site.api_helpers import MAX_ID
from parcels.services import DOOR_PROBLEMS

from .events import MAX_EVENTS_PER_BATCH, EventType, Purpose

DOOR_STATES = [Compartment.DoorState.OPEN, Compartment.DoorState.CLOSED]


class ProvisionIn(serializers.Serializer):
    serial_number = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=200)


class DoorStateIn(serializers.Serializer):
    door = serializers.CharField(max_length=12)
    state = serializers.ChoiceField(choices=DOOR_STATES)


class SensorIn(serializers.Serializer):
    zone = serializers.ChoiceField(choices=Compartment.TemperatureZone.choices)
    temperature_c = serializers.FloatField(min_value=-60, max_value=80)


class HeartbeatIn(serializers.Serializer):
    firmware_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    doors = DoorStateIn(many=True, required=False, default=list, max_length=MAX_COMPARTMENTS_PER_LOCKER)
    sensors = SensorIn(many=True, required=False, default=list)
    last_event_sequence = serializers.IntegerField(min_value=0, max_value=MAX_ID, required=False, allow_null=True,
                                                   default=None)
    bundle_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class CodeIn(serializers.Serializer):
    pin = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    qr_token = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if bool(attrs["pin"]) == bool(attrs["qr_token"]):
            raise serializers.ValidationError("Send either a typed pin or a scanned qr_token.")
        return attrs


class CourierSignInIn(serializers.Serializer):
    badge_number = serializers.CharField(max_length=32)
    pin = serializers.CharField(max_length=16)


class CourierSessionIn(serializers.Serializer):
    session = serializers.CharField(max_length=500)


class CourierDepositIn(CourierSessionIn):
    tracking_number = serializers.CharField(max_length=64)


class CourierDoorProblemIn(CourierSessionIn):
    parcel_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    problem = serializers.ChoiceField(choices=sorted(DOOR_PROBLEMS))


class CourierCollectIn(CourierSessionIn):
    parcel_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class EventIn(serializers.Serializer):
    event_id = serializers.UUIDField()
    sequence = serializers.IntegerField(min_value=0, max_value=MAX_ID)
    occurred_at = serializers.DateTimeField()
    type = serializers.ChoiceField(choices=EventType.ALL)
    door = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")
    purpose = serializers.ChoiceField(choices=Purpose.ALL, required=False, allow_blank=True, default="")
    # Any id a bigint holds: an unknown one is stored as a rejected event, not a refused batch.
    parcel_id = serializers.IntegerField(min_value=-MAX_ID - 1, max_value=MAX_ID, required=False, allow_null=True,
                                         default=None)
    data = serializers.DictField(required=False, default=dict)

    def validate(self, attrs: dict) -> dict:
        if attrs["purpose"] and attrs["parcel_id"] is None:
            raise serializers.ValidationError("An event with a purpose names its parcel_id.")
        if attrs["type"] != EventType.SENSOR and not attrs["door"]:
            raise serializers.ValidationError("A door event names its door.")
        return attrs


class EventsIn(serializers.Serializer):
    events = EventIn(many=True, max_length=MAX_EVENTS_PER_BATCH, allow_empty=False)


class CommandAckIn(serializers.Serializer):
    succeeded = serializers.BooleanField()
    result = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
