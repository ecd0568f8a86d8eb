"""OpenAPI additions: the problem-details body every error of the partner API answers with."""

from __future__ import annotations

from typing import Any

PARTNER_API_PREFIX = "/api/v1/"
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details. `type` is stable per error; `errors` holds field errors.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"description": "Field errors of a validation problem."},
        "nearby": {"type": "array", "items": {"type": "object"}, "description": "Sites with room (409 no room)."},
    },
    "required": ["type", "title", "status"],
}
ERRORS = {
    "400": "Invalid input (field errors in `errors`).",
    "401": "No API key, or an unknown or revoked one.",
    "403": "The key lacks the scope this operation needs.",
    "404": "No such resource for this partner.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict with the resource's state, or an Idempotency-Key still in use.",
    "415": "Unsupported media type.",
    "422": "An Idempotency-Key reused with another request, or a parcel no door can take.",
    "429": "Too many requests; see Retry-After.",
}
PUBLIC_ERRORS = ("400", "404", "405", "406", "429")
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (a UUID): a retry with the same key and body replays the first answer.",
    "schema": {"type": "string", "maxLength": 255},
}


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: document problem answers and the Idempotency-Key header on partner operations."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(PARTNER_API_PREFIX):
            continue  # other APIs (the device API) document their own errors
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            keyless = all(not requirement for requirement in operation.get("security", [{}]))
            codes = PUBLIC_ERRORS if keyless else ERRORS
            for code in codes:
                operation["responses"].setdefault(code, {"description": ERRORS[code], "content": problem})
            if method in {"post", "patch", "delete"}:
                operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
    return result
