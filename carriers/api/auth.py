"""Who is calling the partner API: API-key authentication, scopes and per-key throttling."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from carriers.keys import api_key_authenticate
from carriers.models import ApiKey, Partner


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`; `request.auth` is the ApiKey, `request.user` its partner."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Partner, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <key>'.")
        try:
            plain = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from error
        api_key = api_key_authenticate(plain)
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        return api_key.partner, api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A partner API key: `Authorization: Bearer olk_...`"}


class HasScope(BasePermission):
    """The scope the view asks for (`scope_for`) must be among the key's scopes (401 without a key)."""

    message = "This API key lacks the scope this operation needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated("Send a partner API key: 'Authorization: Bearer <key>'.")
        return view.scope_for(request) in request.auth.scopes


class SettingsRateThrottle(SimpleRateThrottle):
    """A rate read from settings at request time, so a deployment (or a test) can change it."""

    rate_setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting)


class ApiKeyThrottle(SettingsRateThrottle):
    """Requests per API key; a throttled answer is a 429 problem with Retry-After."""

    scope = "api_key"
    rate_setting = "PARTNER_API_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class PublicIpThrottle(SettingsRateThrottle):
    """Requests per client address to the public (keyless) endpoints the widget uses."""

    scope = "public"
    rate_setting = "PUBLIC_API_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
