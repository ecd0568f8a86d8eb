"""Partner portal pages (for partner admins and retail managers) and the checkout widget page.

Secrets (a new API key, a new webhook secret) are rendered once in the answer to the
POST that made them: never put in a redirect, a message cookie or a log.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from .keys import api_key_create, api_key_revoke
from .models import ApiKey, Partner, PartnerMember, WebhookEndpoint
from .selectors import SiteQuery, partner_recent_deliveries, site_search
from .webhooks import EVENT_TYPES, InvalidWebhook, webhook_endpoint_create, webhook_endpoint_delete

PORTAL_ROLES = (PartnerMember.Role.ADMIN, PartnerMember.Role.RETAIL_MANAGER)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What the key is for, e.g. 'production checkout'.")
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[ApiKey.Scope.READ]
    )


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES], widget=forms.CheckboxSelectMultiple, required=False,
        help_text="None ticked: every event type.",
    )


class WidgetSearchForm(forms.Form):
    q = forms.CharField(min_length=2, max_length=80, label="Postal code or address")
    size = forms.SlugField(max_length=8, required=False, widget=forms.HiddenInput)


def _partners_of(request: HttpRequest) -> list[Partner]:
    return list(
        Partner.objects.filter(members__user=request.user, members__role__in=PORTAL_ROLES, is_active=True).distinct()
    )


def _partner(request: HttpRequest, slug: str) -> Partner:
    partner = next((p for p in _partners_of(request) if p.slug == slug), None)
    if partner is None:
        raise PermissionDenied("You are not an admin or retail manager of this partner.")
    return partner


def _portal(request: HttpRequest, partner: Partner, **context: object) -> HttpResponse:
    return render(request, "carriers/portal/home.html", {
        "partner": partner,
        "api_keys": partner.api_keys.all(),
        "endpoints": partner.webhook_endpoints.all(),
        "deliveries": partner_recent_deliveries(partner, limit=25),
        "key_form": context.pop("key_form", ApiKeyForm()),
        "webhook_form": context.pop("webhook_form", WebhookForm()),
        **context,
    })


@login_required
@require_GET
def portal_index(request: HttpRequest) -> HttpResponse:
    partners = _partners_of(request)
    if len(partners) == 1:
        return redirect("portal:home", slug=partners[0].slug)
    if not partners:
        raise PermissionDenied("The partner portal is for partner admins and retail managers.")
    return render(request, "carriers/portal/choose.html", {"partners": partners})


@login_required
@require_GET
def portal_home(request: HttpRequest, slug: str) -> HttpResponse:
    return _portal(request, _partner(request, slug))


@login_required
@require_POST
def api_key_new(request: HttpRequest, slug: str) -> HttpResponse:
    partner = _partner(request, slug)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _portal(request, partner, key_form=form)
    issued = api_key_create(partner=partner, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"])
    response = _portal(request, partner, new_key=issued)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_end(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    partner = _partner(request, slug)
    api_key = get_object_or_404(partner.api_keys, pk=key_id)
    if api_key_revoke(api_key=api_key):
        messages.success(request, f"Key {api_key.prefix}… is revoked.")
    return redirect("portal:home", slug=slug)


@login_required
@require_POST
def webhook_new(request: HttpRequest, slug: str) -> HttpResponse:
    partner = _partner(request, slug)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            created = webhook_endpoint_create(
                partner=partner, url=form.cleaned_data["url"], event_types=form.cleaned_data["event_types"]
            )
        except InvalidWebhook as error:
            form.add_error("url", str(error))
        else:
            response = _portal(request, partner, new_endpoint=created)
            response["Cache-Control"] = "no-store"
            return response
    return _portal(request, partner, webhook_form=form)


@login_required
@require_POST
def webhook_end(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    partner = _partner(request, slug)
    webhook_endpoint_delete(endpoint=get_object_or_404(WebhookEndpoint, partner=partner, pk=endpoint_id))
    messages.success(request, "The webhook endpoint is removed.")
    return redirect("portal:home", slug=slug)


def _web_origin(value: str) -> str:
    """`value` if it is an http(s) origin (scheme://host[:port]), else ''."""
    parts = urlsplit(value)
    ok = parts.scheme in {"http", "https"} and parts.netloc and not (parts.path or parts.query or parts.fragment)
    return value if ok else ""


_DEV_HOSTS = {"localhost", "127.0.0.1"}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an https URL, or of an http one on localhost; else None."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and host in _DEV_HOSTS)):
        return None
    return parts.scheme, host, port


def _return_url(value: str, origin: str) -> str:
    """`value` if it is on the page's `origin` (https, or http on localhost), else ''.

    Any other URL would make the picker a redirector to wherever a link says.
    """
    if not value or not origin:
        return ""
    same = _origin_of(value)
    return value if same is not None and same == _origin_of(origin) else ""


@require_GET
@xframe_options_exempt  # made to be framed by any shop's checkout; it holds no secret and changes nothing
def widget(request: HttpRequest) -> HttpResponse:
    """The checkout locker picker. Without JavaScript the search runs here and a choice
    follows `return_url`; with it, the page asks the public site search and posts the
    choice to its opener or parent window (`origin` names who may receive it).
    `return_url` is used only on that same origin, over https (http on localhost).
    """
    form = WidgetSearchForm(request.GET or None)
    hits = []
    if form.is_valid():
        hits = site_search(SiteQuery(text=form.cleaned_data["q"], free_size=form.cleaned_data["size"]))
    origin = _web_origin(request.GET.get("origin", ""))
    asked = request.GET.get("return_url", "")
    return_url = _return_url(asked, origin)
    return render(request, "carriers/widget/picker.html", {
        "form": form,
        "hits": hits,
        "origin": origin,
        "return_url": return_url,
        "return_url_ignored": bool(asked) and not return_url,
        "size": form.data.get("size", "") if form.is_bound else "",
    })
