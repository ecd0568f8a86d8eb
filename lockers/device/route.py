"""The device API's way through the server: past the browser's middleware, straight to its view.

A locker signs every request (`auth`) and has no session, cookie, CSRF token, message
or language preference: the middleware that serves people (sessions, locale, CSRF,
authentication, messages, clickjacking, allauth, staff MFA) has nothing to do for it,
yet cost a tenth of a heartbeat's CPU (docs/performance.md, *Tenth pass*). Listed right
after the security middleware (which still applies), `DeviceApiRoute` sends every request
under the device API's prefix to URL resolution and its view, with no middleware below;
every other request goes on down the list.

Of what the browser's middleware does, one thing concerns every HTTP client: the common
middleware gives each answer its `Content-Length`. Without it gunicorn frames the answer
in chunks, three writes instead of two and a chunked body for the locker to decode, so
the route gives the header itself.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils import translation

# Where lockers_site.urls mounts the device API, every version of it.
DEVICE_API = "/api/device/"


class _ViewOnlyHandler(BaseHandler):
    """Django's request handling without middleware: URL resolution, the view, and an exception
    turned into its error response as everywhere else."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


class DeviceApiRoute:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.view_only = _ViewOnlyHandler()
        self.view_only.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(DEVICE_API):
            return self.get_response(request)
        # A thread keeps the language its last request activated (the locale middleware
        # sets it per request and never unsets it): a locker is answered in the default one.
        translation.activate(settings.LANGUAGE_CODE)
        return _with_length(self.view_only.get_response(request))


def _with_length(response: HttpResponse) -> HttpResponse:
    """`Content-Length` on an answer that is not streamed, as `CommonMiddleware` sets it."""
    if not response.streaming and not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))
    return response
