"""Operator console for the device protocol: credentials, remote commands and the event log.

Everything here changes through services: a provisioning token is issued (and shown
once), a rotation requested, a credential revoked, a command queued with its reason.
The rows themselves are read-only: they are the audit trail.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from .device.commands import locker_command_queue
from .device.credentials import device_credential_revoke, device_provisioning_issue, device_rotation_request
from .device.errors import CommandRateLimited, CommandRefused
from .models import Compartment, DeviceCredential, DeviceEvent, Locker, LockerCommand


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows are an audit trail: never edited. "Add" leads to the service's own form (`add_view`)."""

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class IssueTokenForm(forms.Form):
    locker = forms.ModelChoiceField(Locker.objects.filter(status=Locker.Status.ACTIVE).select_related("site"))


@admin.register(DeviceCredential)
class DeviceCredentialAdmin(ReadOnlyAdmin):
    list_display = ["locker", "state", "secret_issued_at", "provisioning_expires_at", "rotation_requested_at",
                    "revoked_at", "last_report_at"]
    list_select_related = ["locker__site"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("secret_issued_at", admin.EmptyFieldListFilter)]
    search_fields = ["locker__serial_number", "locker__site__name"]
    exclude = ["provisioning_token_hash", "secret_encrypted", "previous_secret_encrypted"]
    actions = ["issue_provisioning_token", "request_rotation", "revoke"]

    @admin.display(description="state")
    def state(self, obj: DeviceCredential) -> str:
        if obj.revoked_at:
            return "revoked"
        if obj.secret_encrypted:
            return "provisioned" + (", token pending" if obj.provisioning_token_hash else "")
        return "waiting for provisioning" if obj.provisioning_token_hash else "no secret"

    @admin.display(description="last report")
    def last_report_at(self, obj: DeviceCredential) -> str:
        return obj.locker.last_report.get("at", "-")

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.issue_view)
        return [path("issue/", view, name="lockers_devicecredential_issue"), *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:lockers_devicecredential_issue"))

    def _show_token(self, request: HttpRequest, locker: Locker, token: str) -> None:
        self.message_user(request, f"Provisioning token for {locker.serial_number} (shown once, valid 24 h): {token}",
                          messages.SUCCESS)

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        """Register a locker's controller: issue its first one-time provisioning token."""
        if not request.user.has_perm("lockers.add_devicecredential"):
            return HttpResponseRedirect(reverse("admin:index"))
        form = IssueTokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            locker = form.cleaned_data["locker"]
            self._show_token(request, locker, device_provisioning_issue(locker=locker))
            return HttpResponseRedirect(reverse("admin:lockers_devicecredential_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Issue a provisioning token", "form": form,
                   "opts": self.opts, "submit": "Issue token"}
        return TemplateResponse(request, "admin/lockers/device_form.html", context)

    @admin.action(description="Issue a new provisioning token (re-provision)", permissions=["add"])
    def issue_provisioning_token(self, request: HttpRequest, queryset: QuerySet[DeviceCredential]) -> None:
        for credential in queryset.select_related("locker"):
            self._show_token(request, credential.locker, device_provisioning_issue(locker=credential.locker))

    @admin.action(description="Ask the locker to rotate its secret at the next heartbeat", permissions=["add"])
    def request_rotation(self, request: HttpRequest, queryset: QuerySet[DeviceCredential]) -> None:
        asked = device_rotation_request(locker_ids=list(queryset.values_list("locker_id", flat=True)))
        self.message_user(request, f"{asked} locker(s) will rotate their secret at the next heartbeat.")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("lockers.delete_devicecredential")

    @admin.action(description="Revoke: lock the locker out at once", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[DeviceCredential]) -> None:
        revoked = device_credential_revoke(locker_ids=list(queryset.values_list("locker_id", flat=True)))
        self.message_user(request, f"{revoked} locker(s) revoked; issue a new token to bring one back.",
                          messages.WARNING)


class QueueCommandForm(forms.Form):
    locker = forms.ModelChoiceField(Locker.objects.filter(status=Locker.Status.ACTIVE).select_related("site"))
    kind = forms.ChoiceField(choices=LockerCommand.Kind.choices)
    door = forms.CharField(max_length=12, required=False, help_text="Door label, e.g. A3 (not for a bundle refresh).")
    reason = forms.CharField(max_length=200, help_text="Audited: say why, e.g. the support ticket.")

    def clean(self) -> dict:
        data = super().clean()
        label = (data.get("door") or "").strip().upper()
        data["compartment"] = None
        if label and data.get("locker"):
            data["compartment"] = Compartment.objects.filter(locker=data["locker"], label=label).first()
            if data["compartment"] is None:
                self.add_error("door", f"No door {label} in this locker.")
        return data


@admin.register(LockerCommand)
class LockerCommandAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "locker", "kind", "compartment", "state", "requested_by", "reason", "sent_at",
                    "acknowledged_at", "result"]
    # A compartment's __str__ reads its locker and that locker's site.
    list_select_related = ["locker__site", "compartment__locker__site", "requested_by"]
    list_filter = ["state", "kind"]
    search_fields = ["locker__serial_number", "reason", "requested_by__username"]
    date_hierarchy = "created_at"

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:lockers_lockercommand_queue"))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.queue_view)
        return [path("queue/", view, name="lockers_lockercommand_queue"), *super().get_urls()]

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        """Queue a remote command: a form, a reason, the service's rate limits."""
        if not request.user.has_perm("lockers.add_lockercommand"):
            return HttpResponseRedirect(reverse("admin:index"))
        form = QueueCommandForm(request.POST or None, initial={"locker": request.GET.get("locker")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                command = locker_command_queue(locker=data["locker"], kind=data["kind"], reason=data["reason"],
                                               requested_by=request.user, compartment=data["compartment"])
            except (CommandRefused, CommandRateLimited) as refusal:
                form.add_error(None, refusal.detail)
            else:
                self.log_addition(request, command, f"Queued {command.kind}: {command.reason}")
                self.message_user(request, f"Queued: {command}. The locker gets it with its next heartbeat.")
                return HttpResponseRedirect(reverse("admin:lockers_lockercommand_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Queue a remote command", "form": form,
                   "opts": self.opts, "submit": "Queue command"}
        return TemplateResponse(request, "admin/lockers/device_form.html", context)


@admin.register(DeviceEvent)
class DeviceEventAdmin(ReadOnlyAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    list_display = ["occurred_at", "locker", "sequence", "type", "outcome", "note", "received_at"]
    list_select_related = ["locker__site"]
    list_filter = ["outcome", "type"]
    search_fields = ["locker__serial_number", "=event_id"]
    raw_id_fields = ["locker"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
