"""The bench server's own views: the framework's ceilings the hot paths are compared with."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.request import Request

from lockers.device.views import DeviceView, answer

BODY = {"service": "open-lockers", "ok": True}


def bare(request: HttpRequest) -> JsonResponse:
    """A fixed JSON body through the full middleware stack, no database."""
    return JsonResponse(BODY)


class SignedFloor(DeviceView):
    """A device view that only authenticates: Django REST framework and the signature check
    (credential read, HMAC, nonce insert), then a fixed body. What any signed device request
    costs before its own work."""

    def post(self, request: Request) -> HttpResponse:
        return answer(BODY)
