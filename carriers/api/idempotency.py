"""The `@idempotent` decorator every write view of the partner API wears."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carriers.idempotency import (
    MAX_KEY_LENGTH,
    KeyInUse,
    KeyReused,
    idempotency_key_claim,
    idempotency_key_complete,
    idempotency_key_release,
    request_fingerprint,
)
from carriers.models import ApiKey, IdempotencyKey
from lockers_site.problems import problem_response

HEADER = "Idempotency-Key"
Handler = Callable[..., Response | HttpResponse]


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(row.response_body, status=row.response_status, content_type=row.response_content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def _bad_key() -> Response:
    return problem_response(
        code="idempotency_key_invalid", title="The Idempotency-Key header is not valid",
        http_status=status.HTTP_400_BAD_REQUEST,
        detail=f"Send a key of 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID is a good choice).",
    )


def idempotent(handler: Handler) -> Handler:
    """Run `handler` at most once per (partner, Idempotency-Key); replay its answer after.

    Domain and validation errors are answers like any other and are replayed too; an
    unexpected exception releases the key so the client may retry with it.
    """

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None or not isinstance(request.auth, ApiKey):
            return handler(view, request, *args, **kwargs)
        if not (0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()):
            return _bad_key()
        fingerprint = request_fingerprint(method=request.method, path=request.get_full_path(), body=request.body)
        try:
            claim = idempotency_key_claim(partner=request.auth.partner, key=key, fingerprint=fingerprint)
        except KeyReused:
            return problem_response(
                code="idempotency_key_reused", title="This Idempotency-Key was used for another request",
                http_status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        except KeyInUse:
            return problem_response(
                code="idempotency_key_in_use", title="A request with this Idempotency-Key is still being processed",
                http_status=status.HTTP_409_CONFLICT, headers={"Retry-After": "1"},
            )
        if not claim.fresh:
            return _replay(claim.row)
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # mapped as DRF would, so the answer can be stored
                response = view.handle_exception(exc)
        except Exception:
            idempotency_key_release(row=claim.row)
            raise
        if response.status_code >= 500:
            idempotency_key_release(row=claim.row)
            return response
        body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
        idempotency_key_complete(row=claim.row, status=response.status_code, body=body,
                                 content_type=response.content_type or "application/json")
        return response

    return wrapper
