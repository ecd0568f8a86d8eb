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

SITE = OpenApiExample("A site", response_only=True, value=SITES.value["results"][0])

PUBLIC_SITES = OpenApiExample(
    "Sites around a postal code",
    response_only=True,
    value={"results": [{
        "id": 1, "code": "loring-park", "name": "Loring Park Lockers", "address": "1382 Willow St, 55403 Minneapolis",
        "latitude": 44.9694, "longitude": -93.2831, "always_open": True, "free_by_size": {"s": 4, "m": 2, "l": 1},
        "distance_km": 0.0,
    }]},
)

PARCEL_ITEM = OpenApiExample("A parcel", response_only=True, value=PARCEL_OUT.value)

TIMELINE = OpenApiExample(
    "Announced, then reserved",
    response_only=True,
    value=[
        {"type": "announced", "from_status": "", "to_status": "announced", "reason": "",
         "occurred_at": "2026-11-23T18:00:00Z", "site_id": 1, "locker_id": None, "compartment_id": None,
         "actor": "partner"},
        {"type": "reserve", "from_status": "announced", "to_status": "reserved", "reason": "",
         "occurred_at": "2026-11-23T18:00:01Z", "site_id": 1, "locker_id": 3, "compartment_id": 17,
         "actor": "partner"},
    ],
)

REDIRECT_IN = OpenApiExample("To another site", request_only=True, value={"site_id": 7})

EXTEND_IN = OpenApiExample("Two more days", request_only=True, value={"hours": 48})

RETURN_IN = OpenApiExample(
    "A return to drop off",
    request_only=True,
    value={"tracking_number": "RT000001", "external_reference": "rma-555", "site_id": 1,
           "recipient": {"name": "Ada Lovelace", "phone": "+16125550100"}, "item": {"size_class": "m"}},
)

DROPOFF_CODE = OpenApiExample(
    "A drop-off code", response_only=True,
    value={"parcel_id": 43, "site_id": 1, "pin": "48213705", "qr_token": "q1Vb0c3Xk9sPzR2m"},
)

RETURN_OUT = OpenApiExample(
    "The return and its code",
    response_only=True,
    status_codes=["201"],
    value={"parcel": {**PARCEL_OUT.value, "id": 43, "kind": "return", "status": "return_announced",
                      "tracking_number": "RT000001", "external_reference": "rma-555", "compartment": None,
                      "size_class": "m", "weight_g": None, "hold_expires_at": None},
           "dropoff_code": DROPOFF_CODE.value},
)

WEBHOOK_OUT = OpenApiExample(
    "An endpoint",
    response_only=True,
    value={"id": 5, "url": "https://hooks.example.com/openlockers",
           "event_types": ["parcel.picked_up", "parcel.ready_for_pickup"], "is_active": True,
           "created_at": "2026-11-23T18:00:00Z"},
)

WEBHOOK_CREATED = OpenApiExample(
    "The endpoint and its secret (shown once)",
    response_only=True,
    status_codes=["201"],
    value={**WEBHOOK_OUT.value, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
)

DELIVERY = OpenApiExample(
    "A delivery",
    response_only=True,
    value={"id": 91, "event_id": "0b6f3c1e-5a0e-4d1e-9d7e-2f9a1c0b7e11", "event_type": "parcel.ready_for_pickup",
           "status": "delivered", "attempts": 1, "next_attempt_at": None, "created_at": "2026-11-23T18:04:05Z",
           "delivered_at": "2026-11-23T18:04:06Z"},
)
