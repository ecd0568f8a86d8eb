"""Operator console for partner API keys and webhooks (imported by carriers.admin).

Keys are made by the "add" form but never typed: the plain key is generated, shown
once in a message, and only its hash is stored. Revoking and replaying are actions.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .keys import InvalidScopes, api_key_create, api_key_revoke
from .models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .webhooks import webhook_delivery_replay


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["partner", "name", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "partner", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["partner"]
    list_filter = ["partner", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "partner__name"]
    readonly_fields = ["prefix", "partner", "name", "scopes", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiKeyForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else ["partner", "name", "scopes"]

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        try:
            issued = api_key_create(partner=obj.partner, name=obj.name, scopes=form.cleaned_data["scopes"])
        except InvalidScopes as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        obj.pk = issued.api_key.pk
        self.message_user(
            request, f"Copy the key now, it will not be shown again: {issued.plain}", messages.WARNING
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(api_key_revoke(api_key=api_key) for api_key in queryset)
        self.message_user(request, f"{revoked} key(s) revoked.")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "partner", "event_types", "is_active", "created_at"]
    list_select_related = ["partner"]
    list_filter = ["is_active", "partner"]
    search_fields = ["url", "partner__name"]
    exclude = ["secret"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["at", "status_code", "latency_ms", "response_excerpt", "error"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "next_attempt_at", "delivered_at", "created_at"]
    list_select_related = ["event", "endpoint__partner"]
    list_filter = ["status", "endpoint__partner"]
    search_fields = ["event__id", "endpoint__url"]
    raw_id_fields = ["event", "endpoint"]
    readonly_fields = ["event", "endpoint", "status", "attempts", "next_attempt_at", "claimed_until",
                       "created_at", "delivered_at"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhook_delivery_replay(delivery=delivery)
        self.message_user(request, f"{queryset.count()} delivery(ies) will be sent again within a minute.")
