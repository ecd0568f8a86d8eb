"""A retail manager's page of the retailer: its stores at a glance and its staff.

Only the retailer's managers reach it (`retail_manager`, a 404 for anyone else).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from carriers.models import PartnerMember

from . import selectors
from .forms import AssociateAddForm, AssociateStoresForm
from .scope import retail_manager
from .services import StaffChangeRefused, store_associate_add, store_associate_remove, store_associate_set_stores


def _staff_page(request: HttpRequest, manager: PartnerMember, add_form: AssociateAddForm | None = None) -> HttpResponse:
    retailer = manager.partner
    counts = selectors.retailer_store_counts(retailer)
    stores = list(retailer.stores.order_by("name"))  # read once for every member's form
    members = [
        (member, AssociateStoresForm(retailer=retailer, store_list=stores,
                                     initial={"stores": list(member.stores.all())}, prefix=f"m{member.pk}"))
        for member in PartnerMember.objects.filter(partner=retailer).select_related("user")
        .prefetch_related("stores").order_by("role", "user__email")
    ]
    return render(request, "dashboard/retailer.html", {
        "manager": manager, "retailer": retailer, "members": members,
        "stores": [(store, counts.get(store.pk)) for store in stores],
        "add_form": add_form or AssociateAddForm(retailer=retailer, store_list=stores),
        "portal_url": reverse("portal:home", kwargs={"slug": retailer.slug}),
    })


@login_required
@require_GET
def retailer_home(request: HttpRequest, partner: str) -> HttpResponse:
    """A manager's page of the retailer: its stores and its staff."""
    return _staff_page(request, retail_manager(request.user, partner_slug=partner))


@login_required
@require_POST
def associate_add(request: HttpRequest, partner: str) -> HttpResponse:
    manager = retail_manager(request.user, partner_slug=partner)
    form = AssociateAddForm(request.POST, retailer=manager.partner)
    if form.is_valid():
        try:
            store_associate_add(manager=manager, email=form.cleaned_data["email"],
                                stores=list(form.cleaned_data["stores"]))
        except StaffChangeRefused as error:
            form.add_error("email", str(error))
        else:
            messages.success(request, f"{form.cleaned_data['email']} is now a store associate.")
            return redirect("dashboard:retailer", partner=partner)
    return _staff_page(request, manager, add_form=form)


@login_required
@require_POST
def associate_stores(request: HttpRequest, partner: str, member_id: int) -> HttpResponse:
    manager = retail_manager(request.user, partner_slug=partner)
    form = AssociateStoresForm(request.POST, retailer=manager.partner, prefix=f"m{member_id}")
    if not form.is_valid():
        messages.error(request, "Choose among the retailer's stores.")
        return redirect("dashboard:retailer", partner=partner)
    _staff_done(request, lambda: store_associate_set_stores(
        manager=manager, member_id=member_id, stores=list(form.cleaned_data["stores"])), "Stores saved.")
    return redirect("dashboard:retailer", partner=partner)


@login_required
@require_POST
def associate_remove(request: HttpRequest, partner: str, member_id: int) -> HttpResponse:
    manager = retail_manager(request.user, partner_slug=partner)
    _staff_done(request, lambda: store_associate_remove(manager=manager, member_id=member_id),
                "The associate is off the staff.")
    return redirect("dashboard:retailer", partner=partner)


def _staff_done(request: HttpRequest, action: Callable[[], object], success: str) -> None:
    try:
        action()
    except StaffChangeRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
