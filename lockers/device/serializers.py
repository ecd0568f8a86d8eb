"""Input shapes of the device API: plain serializers, cheap enough for the hot path."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
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


DOOR_LABEL_MAX = 12
TEMPERATURE_RANGE_C = (-60.0, 80.0)
SENSOR_ZONES = frozenset(Compartment.TemperatureZone.values)


def _row_errors(index: int, errors: dict[str, str]) -> serializers.ValidationError:
    # The first bad row's errors under its index: the locker learns which row and field to fix.
    return serializers.ValidationError({index: {name: [message] for name, message in errors.items()}})


def _rows(data: Any, *, limit: int | None = None) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise serializers.ValidationError("Expected a list of objects.")
    if limit is not None and len(data) > limit:
        raise serializers.ValidationError(f"Ensure this field has no more than {limit} elements.")
    return data


def _door_row_errors(door: Any, state: Any) -> dict[str, str]:
    errors = {}
    if not isinstance(door, str) or not door:
        errors["door"] = "A door label is required."
    elif not door.isprintable():  # a NUL or a lone surrogate cannot be stored: a 400, not a 500
        errors["door"] = "A door label is printable text."
    elif len(door) > DOOR_LABEL_MAX:
        errors["door"] = f"Ensure this field has no more than {DOOR_LABEL_MAX} characters."
    if state not in DOOR_STATES:
        errors["state"] = f'"{state}" is not a valid choice: {" or ".join(DOOR_STATES)}.'
    return errors


@extend_schema_field({"type": "array", "maxItems": MAX_COMPARTMENTS_PER_LOCKER, "items": {
    "type": "object", "required": ["door", "state"], "properties": {
        "door": {"type": "string", "minLength": 1, "maxLength": DOOR_LABEL_MAX},
        "state": {"type": "string", "enum": DOOR_STATES}}}})
class DoorStates(serializers.Field):
    """A heartbeat's doors, `[{"door": label, "state": open|closed}]`, as `{label: state}`.

    Checked in one pass over plain values: nested serializers (a copy of every field per
    heartbeat, then a serializer per door) cost a fifth of a heartbeat's worker CPU.
    """

    def to_internal_value(self, data: Any) -> dict[str, str]:
        doors = {}
        for index, row in enumerate(_rows(data, limit=MAX_COMPARTMENTS_PER_LOCKER)):
            door, state = row.get("door"), row.get("state")
            door = door.strip() if isinstance(door, str) else door
            if errors := _door_row_errors(door, state):
                raise _row_errors(index, errors)
            doors[door] = state
        return doors

    def to_representation(self, value: dict[str, str]) -> list[dict[str, str]]:
        return [{"door": door, "state": state} for door, state in value.items()]


def _sensor_row_errors(zone: Any, temperature: Any) -> dict[str, str]:
    errors = {}
    if not isinstance(zone, str) or zone not in SENSOR_ZONES:
        errors["zone"] = f'"{zone}" is not a valid choice: {", ".join(sorted(SENSOR_ZONES))}.'
    low, high = TEMPERATURE_RANGE_C
    is_number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if not is_number or not low <= temperature <= high:
        errors["temperature_c"] = f"A number from {low:g} to {high:g} is required."
    return errors


@extend_schema_field({"type": "array", "items": {
    "type": "object", "required": ["zone", "temperature_c"], "properties": {
        "zone": {"type": "string", "enum": sorted(SENSOR_ZONES)},
        "temperature_c": {"type": "number", "minimum": TEMPERATURE_RANGE_C[0], "maximum": TEMPERATURE_RANGE_C[1]}}}})
class SensorReadings(serializers.Field):
    """A heartbeat's readings, `[{"zone": ..., "temperature_c": ...}]`, checked in one pass like `DoorStates`."""

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        readings = []
        for index, row in enumerate(_rows(data)):
            zone, temperature = row.get("zone"), row.get("temperature_c")
            if errors := _sensor_row_errors(zone, temperature):
                raise _row_errors(index, errors)
            readings.append({"zone": zone, "temperature_c": float(temperature)})
        return readings

    def to_representation(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return value


class HeartbeatIn(serializers.Serializer):
    firmware_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    doors = DoorStates(required=False, default=dict)
    sensors = SensorReadings(required=False, default=list)
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
