"""The front door: a short page for visitors, and the right console for each signed-in person."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from carriers.models import PartnerMember

RETAIL_ROLES = {PartnerMember.Role.RETAIL_MANAGER, PartnerMember.Role.STORE_ASSOCIATE}


def home(request: HttpRequest) -> HttpResponse:
    """Send operators to the admin, retail staff to their stores, partner admins to the
    portal and recipients to their parcels; show visitors what the network is."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "home.html")
    if user.is_staff:
        return redirect("admin:index")
    roles = set(PartnerMember.objects.filter(user=user).values_list("role", flat=True))
    if roles & RETAIL_ROLES:
        return redirect("dashboard:index")
    if roles:
        return redirect("portal:index")
    return redirect("accounts:my_parcels")
