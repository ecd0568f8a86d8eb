"""One error format for every API: RFC 9457 problem details.

Domain errors (`parcels.errors.ParcelError` and subclasses) carry a stable `code`
that becomes the problem `type`; DRF's own errors are mapped the same way, with
field errors under `errors` for validation failures.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from parcels.errors import ParcelError

PROBLEM_BASE = "https://openlockers.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_response(
    *, code: str, title: str, http_status: int, detail: str = "", headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": http_status, "detail": detail or title, **extra}
    response = Response(body, status=http_status, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _code_for(exc: exceptions.APIException) -> str:
    return exc.default_code if isinstance(exc.default_code, str) else "error"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ParcelError):
        return problem_response(code=exc.code, title=exc.title, http_status=exc.http_status, detail=exc.detail,
                                **exc.extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    headers = {name: value for name, value in response.headers.items() if name in {"Retry-After", "WWW-Authenticate"}}
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(code="validation_error", title="The request has invalid fields",
                                http_status=status.HTTP_400_BAD_REQUEST, errors=exc.detail, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(code=_code_for(exc), title=str(exc.default_detail), http_status=exc.status_code,
                            detail=detail, headers=headers)
