"""Examples shown on the operations of the OpenAPI schema (and so in /api/docs/)."""

from drf_spectacular.utils import OpenApiExample

ANNOUNCE_IN = OpenApiExample(
    "Announce and reserve",
    request_only=True,
    value={
        "tracking_number": "NS00001234",
        "external_reference": "order-98765",
        "site_id": 1,
        "recipient": {"name": "Ada Lovelace", "phone": "+16125550100", "email": "ada@example.com", "language": "en"},
        "item": {"size_class": "s", "weight_g": 1200},
        "reserve": True,
    },
)

PARCEL_OUT = OpenApiExample(
    "A reserved parcel",
    response_only=True,
    status_codes=["200", "201"],
    value={
        "id": 42, "tracking_number": "NS00001234", "external_reference": "order-98765", "kind": "delivery",
        "status": "reserved", "status_reason": "", "site_id": 1, "compartment": "A03",
        "recipient_name": "Ada Lovelace", "recipient_phone": "+16125550100", "recipient_email": "ada@example.com",
        "recipient_language": "en", "size_class": "s", "length_mm": None, "width_mm": None, "height_mm": None,
        "weight_g": 1200, "needs_accessible": False, "temperature_need": "ambient",
        "hold_expires_at": "2026-11-24T18:00:00Z", "deposited_at": None, "pickup_deadline": None,
        "extensions_used": 0, "picked_up_at": None, "created_at": "2026-11-23T18:00:00Z",
        "updated_at": "2026-11-23T18:00:00Z",
    },
)

SITES = OpenApiExample(
    "Sites near a point",
    response_only=True,
    value={"results": [{
        "id": 1, "code": "loring-park", "name": "Loring Park Lockers", "kind": "public",
        "address_line": "1382 Willow St", "city": "Minneapolis", "region": "MN", "postal_code": "55403",
        "country": "US", "latitude": 44.9694, "longitude": -93.2831, "time_zone": "America/Chicago",
        "always_open": True, "opening_hours": {}, "directions": "By the north entrance.",
        "free_by_size": {"s": 4, "m": 2, "l": 1}, "distance_km": 0.412,
    }]},
)

STATUSES = OpenApiExample(
    "The catalogue",
    response_only=True,
    value=[{"code": "announced", "title": "Announced",
            "description": "The partner told us about the parcel; no door is held yet.", "terminal": False}],
)

WEBHOOK_IN = OpenApiExample(
    "Parcel ready and picked up",
    request_only=True,
    value={"url": "https://hooks.example.com/openlockers", "event_types": ["parcel.ready_for_pickup",
                                                                           "parcel.picked_up"]},
)
