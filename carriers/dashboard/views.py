"""Store dashboard pages. Each view resolves the store through `store_scope` (a 404
for anyone outside it), parses input, and calls one service or selector.

Pages work without JavaScript: every action is a form POST answered with a redirect.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from parcels.errors import NoFittingCompartment, ParcelError
from parcels.models import ParcelStatus
from parcels.selectors import parcel_timeline
from parcels.services import deposit_door_problem, parcel_collect, parcel_deposit, parcel_extend

from . import charts, selectors
from .csv_orders import CsvRefused, template_csv
from .forms import DoorProblemForm, ImportForm, KpiRangeForm, OrderForm, SearchForm
from .kpis import StoreKpis, kpi_range, store_kpis
from .scope import StoreScope, store_order, store_scope, store_scopes
from .services import (
    store_door_open,
    store_order_announce,
    store_order_door,
    store_order_notify_again,
    store_orders_import,
)

StoreView = Callable[..., HttpResponse]


def store_page(view: StoreView) -> StoreView:
    """Log-in required; the URL's store becomes `scope` or the answer is a 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, partner: str, site: str, **kwargs: object) -> HttpResponse:
        scope = store_scope(request.user, partner_slug=partner, site_code=site)
        return view(request, scope, **kwargs)

    return wrapper


def _url(name: str, scope: StoreScope, **kwargs: object) -> str:
    return reverse(f"dashboard:{name}", kwargs={"partner": scope.partner.slug, "site": scope.site.code, **kwargs})


def _render(request: HttpRequest, template: str, scope: StoreScope, **context: object) -> HttpResponse:
    return render(request, f"dashboard/{template}", {"scope": scope, "site": scope.site, **context})


def _done(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    """Run a service; a domain refusal becomes a message for the associate, never a 500."""
    try:
        action()
    except ParcelError as error:
        messages.error(request, error.detail)
        return False
    messages.success(request, success)
    return True


# --- stores and the overview ------------------------------------------------------------


@login_required
@require_GET
def store_index(request: HttpRequest) -> HttpResponse:
    scopes = store_scopes(request.user)
    if not scopes:
        raise Http404("No store.")
    if len(scopes) == 1:
        return redirect(_url("home", scopes[0]))
    return render(request, "dashboard/index.html", {"scopes": scopes})


@require_GET
@store_page
def store_home(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    now = timezone.now()
    with timezone.override(scope.site.tz):
        return _render(
            request, "home.html", scope, now=now,
            counts=selectors.store_counts(scope, now),
            to_load=selectors.to_load(scope),
            in_locker=selectors.in_locker(scope, now),
            picked_up_today=selectors.picked_up_today(scope, now),
            overdue=selectors.overdue_and_expired(scope, now),
            search_form=SearchForm(),
        )


@require_GET
@store_page
def order_search(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    form = SearchForm(request.GET)
    text = form.cleaned_data["q"] if form.is_valid() else ""
    results = selectors.order_search(scope, text) if text else []
    with timezone.override(scope.site.tz):
        return _render(request, "search.html", scope, search_form=form, results=results, text=text)


# --- orders in ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@store_page
def order_new(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    with timezone.override(scope.site.tz):
        form = OrderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                order = store_order_announce(
                    scope=scope, order_number=form.cleaned_data["order_number"],
                    recipient=form.recipient(), spec=form.spec(),
                )
            except ParcelError as error:
                form.add_error(None, error.detail)
            else:
                messages.success(request, f"Order {order.tracking_number} is in the queue to load.")
                return redirect(_url("home", scope))
        return _render(request, "order_form.html", scope, form=form)


@require_http_methods(["GET", "POST"])
@store_page
def orders_import(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = store_orders_import(scope=scope, upload=form.cleaned_data["file"])
        except CsvRefused as error:
            form.add_error("file", str(error))
    return _render(request, "import.html", scope, form=form, report=report)


@require_GET
@store_page
def import_template(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="orders-template.csv"'
    return response


# --- one order: detail, loading, acting -----------------------------------------------------


# What each custody event means to store staff (event types are the lifecycle's actions).
EVENT_LABELS = {
    ParcelStatus.ANNOUNCED: "Order received", "reserve": "Door held for loading",
    "change_door": "Moved to another door", "release_hold": "Held door released",
    "refuse_deposit": "Not loaded: no usable door",
    "deposit": "Loaded; customer told", "reissue_code": "New pickup code sent", "extend": "Deadline extended",
    "door_opened_for_pickup": "Door opened for the customer", "pick_up": "Picked up", "expire": "Expired",
    "collect": "Unloaded", "cancel": "Cancelled", "redirect": "Sent to another store",
    "problem_reported": "Customer reported a problem",
}


@require_GET
@store_page
def order_detail(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    order = store_order(scope, order_id)
    with timezone.override(scope.site.tz):
        return _render(
            request, "order_detail.html", scope, order=order, now=timezone.now(),
            timeline=[(event, EVENT_LABELS.get(event.type, event.type.replace("_", " ").capitalize()))
                      for event in parcel_timeline(order)],
            extension_hours=int(settings.PICKUP_EXTENSION / timedelta(hours=1)),
        )


@require_http_methods(["GET", "POST"])
@store_page
def order_load(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    """GET shows the held door big (for a tablet at the locker); POST holds a door first."""
    order = store_order(scope, order_id)
    if request.method == "POST":
        if _done(request, lambda: store_order_door(scope=scope, order=order), "A door is held for this order."):
            return redirect(_url("order-load", scope, order_id=order.pk))
        return redirect(_url("home", scope))
    if order.status != ParcelStatus.RESERVED:
        return redirect(_url("order-detail", scope, order_id=order.pk))
    return _render(request, "load.html", scope, order=order, door=order.compartment, problem_form=DoorProblemForm())


@require_POST
@store_page
def door_open(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    order = store_order(scope, order_id)
    label = order.compartment.label if order.compartment else ""
    _done(request, lambda: store_door_open(scope=scope, order=order), f"Door {label} is asked to open.")
    return redirect(_url("order-load", scope, order_id=order.pk))


@require_POST
@store_page
def door_closed(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    order = store_order(scope, order_id)
    _done(request, lambda: parcel_deposit(parcel_id=order.pk, who=scope.who()),
          f"Order {order.tracking_number} is loaded; the customer is told.")
    return redirect(_url("home", scope))


@require_POST
@store_page
def door_problem(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    """'Door too small' or 'door broken': one tap moves the order to another fitting door."""
    order = store_order(scope, order_id)
    form = DoorProblemForm(request.POST)
    if not form.is_valid():
        raise Http404("Unknown door problem.")
    try:
        door = deposit_door_problem(parcel_id=order.pk, problem=form.cleaned_data["problem"], who=scope.who())
    except NoFittingCompartment:
        messages.warning(request, f"No other door fits order {order.tracking_number} now: keep it aside.")
        return redirect(_url("home", scope))
    except ParcelError as error:
        messages.error(request, error.detail)
        return redirect(_url("home", scope))
    messages.success(request, f"Use door {door.label} instead.")
    return redirect(_url("order-load", scope, order_id=order.pk))


@require_POST
@store_page
def order_notify_again(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    order = store_order(scope, order_id)
    _done(request, lambda: store_order_notify_again(scope=scope, order=order),
          "The customer's pickup message is on its way again.")
    return redirect(_url("order-detail", scope, order_id=order.pk))


@require_POST
@store_page
def order_extend(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    order = store_order(scope, order_id)
    _done(request, lambda: parcel_extend(parcel_id=order.pk, who=scope.who()), "The pickup deadline is extended.")
    return redirect(_url("order-detail", scope, order_id=order.pk))


@require_POST
@store_page
def order_unload(request: HttpRequest, scope: StoreScope, order_id: int) -> HttpResponse:
    order = store_order(scope, order_id)
    door = order.compartment.label if order.compartment else ""
    _done(request, lambda: parcel_collect(parcel_id=order.pk, who=scope.who()),
          f"Order {order.tracking_number} is taken out of door {door}.")
    return redirect(_url("home", scope))


# --- KPIs ------------------------------------------------------------------------------------


def _kpis(request: HttpRequest, scope: StoreScope) -> tuple[KpiRangeForm, StoreKpis]:
    asked = KpiRangeForm(request.GET)
    data = asked.cleaned_data if asked.is_valid() else {}
    start, end = kpi_range(scope, data.get("start"), data.get("end"))
    # The form shows the range actually used (defaulted and capped), not only what was typed.
    return KpiRangeForm(initial={"start": start, "end": end}), store_kpis(scope, start=start, end=end)


def _charts(kpis: StoreKpis) -> list[charts.Chart]:
    labels = [day.day.strftime("%m-%d") for day in kpis.days]
    return [
        charts.bar_chart("Orders loaded and picked up per day", labels, {
            "Loaded": [day.loaded for day in kpis.days], "Picked up": [day.picked_up for day in kpis.days],
        }),
        charts.line_chart("Hours from loaded to picked up", labels, {
            "Median": [day.p50_hours for day in kpis.days], "90th percentile": [day.p90_hours for day in kpis.days],
        }, unit=" h"),
        charts.line_chart("Doors in use at the end of the day, by size", labels, {
            f"Size {size}": [round(day.occupancy.get(size, 0) * 100, 1) for day in kpis.days] for size in kpis.sizes
        }, unit="%"),
    ]


@require_GET
@store_page
def store_kpi_page(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    form, kpis = _kpis(request, scope)
    return _render(request, "kpis.html", scope, form=form, kpis=kpis, charts=_charts(kpis),
                   portal_url=reverse("portal:home", kwargs={"slug": scope.partner.slug}) if scope.is_manager else "")


CSV_COLUMNS = ["day", "loaded", "picked_up", "median_hours", "p90_hours", "share_picked_up_within_24h",
               "overdue_rate"]


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


@require_GET
@store_page
def store_kpi_csv(request: HttpRequest, scope: StoreScope) -> HttpResponse:
    _, kpis = _kpis(request, scope)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kpis-{scope.site.code}-{kpis.start}-{kpis.end}.csv"'
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(["store", *CSV_COLUMNS, *(f"occupancy_{size}" for size in kpis.sizes)])
    for day in kpis.days:
        writer.writerow([
            scope.site.code, day.day.isoformat(), day.loaded, day.picked_up, _figure(day.p50_hours),
            _figure(day.p90_hours), _figure(day.within_24h), _figure(day.overdue_rate),
            *(_figure(day.occupancy.get(size)) for size in kpis.sizes),
        ])
    return response
