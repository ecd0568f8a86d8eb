"""Small helpers shared by the project's APIs (carrier API, device API)."""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

# The largest primary key a BigAutoField holds: ids above it are a 4xx, never an overflow.
MAX_ID = 2**63 - 1

# Serializers of this thread, ready to check another request's data: a new serializer
# deep-copies every declared field (DRF's `get_fields`), a tenth of a heartbeat's CPU.
# Per thread, and taken out while in use, so no two checks ever share one (gunicorn's
# gthread workers run requests in threads; a check inside a check gets a new one).
_ready = threading.local()

# What a check leaves on a serializer (`is_valid`, `data`): cleared before it is reused.
_CHECK_STATE = ("initial_data", "_validated_data", "_errors", "_data")


def _take(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    idle = getattr(_ready, "idle", None)
    if idle is None:
        idle = _ready.idle = {}
    return idle.pop(serializer_class, None) or serializer_class()


def _give_back(serializer: serializers.Serializer) -> None:
    for name in _CHECK_STATE:
        serializer.__dict__.pop(name, None)
    _ready.idle[type(serializer)] = serializer


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """`data` checked by `serializer_class`: its validated data, or a ValidationError (a 400 problem).

    The serializer takes no context or instance: a check depends on `data` alone, which
    is what makes its serializer safe to reuse.
    """
    serializer = _take(serializer_class)
    try:
        serializer.initial_data = data
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    finally:
        _give_back(serializer)
