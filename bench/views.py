"""The bare view: a fixed JSON body through the full middleware stack, no database."""

from django.http import HttpRequest, JsonResponse

BODY = {"service": "open-lockers", "ok": True}


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse(BODY)
