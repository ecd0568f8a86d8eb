"""Small helpers shared by the project's APIs (carrier API, device API)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

# The largest primary key a BigAutoField holds: ids above it are a 4xx, never an overflow.
MAX_ID = 2**63 - 1


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """`data` checked by `serializer_class`: its validated data, or a ValidationError (a 400 problem)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
