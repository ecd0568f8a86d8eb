"""The operator console for partners, their people and their outbox of events."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import CourierCredential, Partner, PartnerEvent, PartnerMember
from .services import PIN_LENGTHS, InvalidPin, courier_credential_create, courier_credential_set_pin, validate_pin


class PartnerMemberInline(admin.TabularInline):
    model = PartnerMember
    extra = 0
    autocomplete_fields = ["user", "stores"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "is_active", "member_count", "store_count", "contact_email"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["stores"]
    readonly_fields = ["created_at"]
    inlines = [PartnerMemberInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("members", distinct=True), store_count=Count("stores", distinct=True))
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Partner) -> int:
        return obj.member_count

    @admin.display(description="stores", ordering="store_count")
    def store_count(self, obj: Partner) -> int:
        return obj.store_count


class CourierCredentialForm(forms.ModelForm):
    """Takes a PIN in clear and hands it to the service; the model only ever sees its hash."""

    pin = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "inputmode": "numeric"}),
        help_text=f"{PIN_LENGTHS.start} to {PIN_LENGTHS.stop - 1} digits. Leave blank to keep the current PIN.",
    )

    class Meta:
        model = CourierCredential
        fields = ["partner", "courier_name", "badge_number", "user", "is_active"]

    def clean_pin(self) -> str:
        pin = self.cleaned_data["pin"]
        if not pin and self.instance.pk is None:
            raise forms.ValidationError("A new credential needs a PIN.")
        if pin:
            try:
                validate_pin(pin)
            except InvalidPin as error:
                raise forms.ValidationError(str(error)) from error
        return pin


@admin.register(CourierCredential)
class CourierCredentialAdmin(admin.ModelAdmin):
    form = CourierCredentialForm
    list_display = ["courier_name", "badge_number", "partner", "user", "is_active", "failed_attempts", "last_used_at"]
    list_select_related = ["partner", "user"]
    list_filter = ["is_active", "partner"]
    search_fields = ["courier_name", "badge_number", "partner__name", "user__username"]
    autocomplete_fields = ["partner", "user"]
    # The lockout counters belong to the locker log-in flow.
    readonly_fields = ["failed_attempts", "locked_until", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: CourierCredential | None = None) -> list[str]:
        # The PIN hash is keyed on the badge number, so a badge cannot change under it.
        return [*self.readonly_fields, "badge_number"] if obj else list(self.readonly_fields)

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> Any:
        if change:
            return super().save_form(request, form, change)
        data = form.cleaned_data
        return courier_credential_create(
            partner=data["partner"],
            courier_name=data["courier_name"],
            badge_number=data["badge_number"],
            pin=data["pin"],
            user=data["user"],
        )

    def save_model(self, request: HttpRequest, obj: CourierCredential, form: forms.ModelForm, change: bool) -> None:
        if not change:
            return  # created by the service in save_form
        super().save_model(request, obj, form, change)
        if form.cleaned_data["pin"]:
            courier_credential_set_pin(credential=obj, pin=form.cleaned_data["pin"])

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        # A credential has no many-to-many fields or inlines, and a new one was not
        # saved through the form, which therefore has no `save_m2m` to call.
        if change:
            super().save_related(request, form, formsets, change)


@admin.register(PartnerEvent)
class PartnerEventAdmin(admin.ModelAdmin):
    """The webhook outbox, for support: readable, never edited by hand."""

    list_display = ["type", "partner", "occurred_at", "id"]
    list_select_related = ["partner"]
    list_filter = ["partner", "type"]
    search_fields = ["id", "type"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PartnerEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PartnerEvent | None = None) -> bool:
        return False


# API keys, webhook endpoints and deliveries live in their own module (the partner API's).
from . import partner_api_admin  # noqa: E402, F401
