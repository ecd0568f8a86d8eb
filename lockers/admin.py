"""The operator console for the physical network.

List pages show availability per size without a query per row: a changelist asks
`lockers.selectors` once for its whole page (see `AvailabilityChangeList`).
Condition, door state and heartbeat belong to services and devices, so they are
read-only here and change only through the admin actions below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from lockers_site.admin_filters import site_city_filter
from lockers_site.admin_lists import LeanChangeList, LeanRows
from lockers_site.paging import EstimatedCountPaginator

from .models import Compartment, Locker, Site, SizeClass
from .selectors import Availability, availability_of_lockers, availability_of_sites
from .services import LayoutError, compartments_set_condition, locker_lay_out


class AvailabilityChangeList(LeanChangeList):
    """Attaches an `Availability` to every row of the page with one grouped read."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # Iterating evaluates the page once; the queryset keeps these same instances,
        # so the attribute set here is what the list template reads.
        by_id = self.model_admin.availability_of([row.pk for row in self.result_list])
        for row in self.result_list:
            row.availability = by_id.get(row.pk, Availability())


class AvailabilityColumnsMixin(LeanRows):
    """List columns "doors", "free" and "free by size" for a site or locker admin."""

    availability_of: Callable[[list[int]], dict[int, Availability]]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AvailabilityChangeList

    @admin.display(description="doors")
    def doors(self, obj: Site | Locker) -> int:
        return obj.availability.doors

    @admin.display(description="free")
    def free(self, obj: Site | Locker) -> int:
        return obj.availability.free

    @admin.display(description="free by size")
    def free_by_size(self, obj: Site | Locker) -> str:
        return " · ".join(f"{code} {n}" for code, n in obj.availability.free_by_size.items()) or "-"


class OnlineFilter(admin.SimpleListFilter):
    """Online means a heartbeat within LOCKER_OFFLINE_AFTER; only active lockers count as offline."""

    title = "online"
    parameter_name = "online"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Online"), ("no", "Offline")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Locker]) -> QuerySet[Locker]:
        if self.value() == "yes":
            return queryset.online()
        if self.value() == "no":
            return queryset.filter(status=Locker.Status.ACTIVE).offline()
        return queryset


@admin.register(SizeClass)
class SizeClassAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "inner_height_mm", "inner_width_mm", "inner_depth_mm", "max_weight_g"]
    search_fields = ["code", "name"]


class LockerInline(admin.TabularInline):
    model = Locker
    extra = 0
    show_change_link = True
    fields = ["name", "serial_number", "hardware_model", "firmware_version", "status", "last_heartbeat_at", "online"]
    readonly_fields = ["firmware_version", "last_heartbeat_at", "online"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Locker]:
        # Each row prints the locker's name, which names its site.
        return super().get_queryset(request).select_related("site")

    @admin.display(boolean=True)
    def online(self, obj: Locker) -> bool:
        return obj.is_online


@admin.register(Site)
class SiteAdmin(AvailabilityColumnsMixin, admin.ModelAdmin):
    list_display = ["name", "code", "kind", "status", "city", "doors", "free", "free_by_size", "map_link"]
    list_filter = ["city", "status", "kind", "always_open"]
    search_fields = ["name", "code", "address_line", "city", "postal_code"]
    prepopulated_fields = {"code": ["name"]}
    readonly_fields = ["map_link", "created_at", "updated_at"]
    inlines = [LockerInline]
    fieldsets = [
        (None, {"fields": ["name", "code", "kind", "status"]}),
        (
            "Place",
            {
                "fields": [
                    "address_line",
                    "city",
                    "region",
                    "postal_code",
                    "country",
                    ("latitude", "longitude"),
                    "map_link",
                    "directions",
                ]
            },
        ),
        ("Hours", {"fields": ["time_zone", "always_open", "opening_hours", "pickup_window_hours"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    @staticmethod
    def availability_of(ids: list[int]) -> dict[int, Availability]:
        return availability_of_sites(ids)

    @admin.display(description="map")
    def map_link(self, obj: Site) -> str:
        if obj.latitude is None or obj.longitude is None:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">map</a>', obj.map_url)


class CompartmentInline(admin.TabularInline):
    """Doors are created by a layout and maintained by actions: shown, not edited, here."""

    model = Compartment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["label", "size_class", "column", "row", "temperature_zone", "accessible", "condition", "door_state"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Locker | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Compartment]:
        # Each row prints the door's name, which names its locker and site.
        return super().get_queryset(request).select_related("size_class", "locker__site")


class LayoutForm(forms.Form):
    layout = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 60, "style": "font-family: monospace"}),
        help_text=(
            "One line per column, size codes from the bottom up, e.g. 'S S S M M L'. "
            "Start a line with a zone for cooled columns, e.g. 'chilled: M M M L'."
        ),
    )


@admin.register(Locker)
class LockerAdmin(AvailabilityColumnsMixin, admin.ModelAdmin):
    list_display = [
        "serial_number",
        "name",
        "site",
        "status",
        "online",
        "last_heartbeat_at",
        "firmware_version",
        "doors",
        "free",
        "free_by_size",
    ]
    list_select_related = ["site"]
    list_filter = [OnlineFilter, "status", "site__city", "site__kind", "hardware_model"]
    search_fields = ["serial_number", "name", "site__name", "site__code"]
    autocomplete_fields = ["site"]
    readonly_fields = ["firmware_version", "last_heartbeat_at", "last_report", "last_event_sequence", "created_at",
                       "lay_out_link"]
    fields = ["site", "name", "serial_number", "hardware_model", "status", *readonly_fields]
    inlines = [CompartmentInline]
    actions = ["lay_out_compartments"]

    def save_model(self, request: HttpRequest, obj: Locker, form: forms.ModelForm, change: bool) -> None:
        # Heartbeats and event batches write the last-seen time, the report and the last
        # event sequence while the form is open; a full save would put back what it loaded.
        obj.save(update_fields=form.changed_data if change else None)

    @staticmethod
    def availability_of(ids: list[int]) -> dict[int, Availability]:
        return availability_of_lockers(ids)

    @admin.display(boolean=True, description="online")
    def online(self, obj: Locker) -> bool:
        return obj.is_online

    @admin.display(description="compartments")
    def lay_out_link(self, obj: Locker) -> str:
        if obj.pk is None:
            return "Save the locker first, then lay out its compartments."
        url = reverse("admin:lockers_locker_lay_out", args=[obj.pk])
        return format_html('<a href="{}">Lay out compartments</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.lay_out_view)
        return [path("<int:locker_id>/lay-out/", view, name="lockers_locker_lay_out"), *super().get_urls()]

    @admin.action(description="Lay out compartments of the selected locker")
    def lay_out_compartments(self, request: HttpRequest, queryset: QuerySet[Locker]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one locker to lay out.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:lockers_locker_lay_out", args=[queryset.get().pk]))

    def lay_out_view(self, request: HttpRequest, locker_id: int) -> HttpResponse:
        locker = get_object_or_404(Locker.objects.select_related("site"), pk=locker_id)
        if not self.has_change_permission(request, locker):
            return HttpResponseRedirect(reverse("admin:index"))
        form = LayoutForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                created = locker_lay_out(locker=locker, layout=form.cleaned_data["layout"])
            except LayoutError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Laid out {len(created)} compartments in {locker}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:lockers_locker_change", args=[locker.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lay out compartments: {locker}",
            "opts": self.opts,
            "original": locker,
            "form": form,
            "sizes": SizeClass.objects.all(),
            "has_compartments": locker.compartments.exists(),
        }
        return TemplateResponse(request, "admin/lockers/locker/lay_out.html", context)


def _condition_action(condition: Compartment.Condition, description: str) -> Callable[..., None]:
    def action(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Compartment]) -> None:
        changed = compartments_set_condition(
            compartment_ids=list(queryset.values_list("pk", flat=True)), condition=condition
        )
        model_admin.message_user(request, f"{changed} compartment(s) now {condition.label.lower()}.")

    action.__name__ = f"mark_{condition.value}"
    return admin.action(description=description)(action)


@admin.register(Compartment)
class CompartmentAdmin(LeanRows, admin.ModelAdmin):
    list_display = [
        "label",
        "locker",
        "size_class",
        "column",
        "row",
        "temperature_zone",
        "accessible",
        "condition",
        "occupied",
        "door_state",
    ]
    list_select_related = ["locker__site", "size_class"]
    # Cities from the sites table, not a DISTINCT over 900,000 doors on every page (docs/performance.md).
    list_filter = ["condition", "size_class", "temperature_zone", "accessible", "door_state",
                   site_city_filter("locker__site__city")]
    search_fields = ["label", "locker__serial_number", "locker__site__name", "locker__site__code"]
    raw_id_fields = ["locker"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # By locker id, not the locker's own ordering (site name, name): the position index
    # (locker, column, row) then serves the page instead of a sort of every door (1.3 s).
    ordering = ["locker_id", "column", "row"]
    readonly_fields = ["locker", "condition", "door_state", "door_state_at"]
    actions = [
        _condition_action(Compartment.Condition.OUT_OF_SERVICE, "Take out of service"),
        _condition_action(Compartment.Condition.OK, "Put back in service"),
        _condition_action(Compartment.Condition.DIRTY, "Mark dirty (needs cleaning)"),
        _condition_action(Compartment.Condition.BROKEN, "Mark broken (needs repair)"),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Doors come from a locker's layout, never one by one.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Compartment]:
        return super().get_queryset(request).with_occupied()

    @admin.display(boolean=True, ordering="occupied")
    def occupied(self, obj: Compartment) -> bool:
        return obj.occupied

# The device protocol's console (credentials, remote commands, event log) lives beside this file.
from . import admin_device  # noqa: E402, F401
