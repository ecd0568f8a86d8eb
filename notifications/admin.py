from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Notification, NotificationAttempt, OptOut, RecipientProfile
from .services import notification_resend


class NotificationAttemptInline(admin.TabularInline):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "finished_at", "outcome", "provider_id", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "parcel", "kind", "channel", "address", "language", "status", "attempts", "created_at",
                    "sent_at")
    list_filter = ("status", "channel", "kind", "language")
    search_fields = ("address", "parcel__tracking_number")
    list_select_related = ("parcel",)
    raw_id_fields = ("parcel",)
    date_hierarchy = "created_at"
    inlines = [NotificationAttemptInline]
    actions = ["resend"]
    # The outbox is written by the parcel services; here it is read, and resent by action.
    readonly_fields = ("parcel", "kind", "channel", "address", "language", "dedupe_key", "status", "attempts",
                       "next_attempt_at", "claimed_until", "claim_token", "last_error", "created_at", "sent_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (today's code and link)")
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        for pk in queryset.values_list("pk", flat=True):
            notification_resend(notification_id=pk)
        self.message_user(request, f"{queryset.count()} notification(s) queued to send again.", messages.SUCCESS)


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ("channel", "address", "source", "created_at")
    list_filter = ("channel", "source")
    search_fields = ("address",)


@admin.register(RecipientProfile)
class RecipientProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "phone", "phone_verified", "language", "preferred_site")
    list_select_related = ("user", "preferred_site")
    search_fields = ("user__email", "phone")
    raw_id_fields = ("user", "preferred_site")
