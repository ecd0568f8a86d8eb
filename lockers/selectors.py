"""Named reads of the network: availability and totals, computed in the database."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Compartment, Locker, Site, SizeClass


def free_by_size(compartments: QuerySet[Compartment]) -> dict[str, int]:
    """Free doors per size-class code among `compartments`, in one query."""
    rows = compartments.free().values("size_class__code").annotate(n=Count("pk")).order_by()
    return {row["size_class__code"]: row["n"] for row in rows}


def network_totals() -> dict[str, object]:
    """Sites, lockers, compartments, free doors by size, and lockers offline."""
    free = free_by_size(Compartment.objects.all())
    return {
        "sites": Site.objects.exclude(status=Site.Status.DECOMMISSIONED).count(),
        "lockers": Locker.objects.filter(status=Locker.Status.ACTIVE).count(),
        "compartments": Compartment.objects.count(),
        "free_by_size": [(size, free.get(size.code, 0)) for size in SizeClass.objects.all()],
        "lockers_offline": Locker.objects.filter(status=Locker.Status.ACTIVE).offline().count(),
    }


def sites_with_free_counts(sites: QuerySet[Site]) -> QuerySet[Site]:
    """Annotate each site with its number of doors and of free doors."""
    free_q = Q(lockers__compartments__in=Compartment.objects.free())
    return sites.annotate(
        compartment_count=Count("lockers__compartments", distinct=True),
        free_count=Count("lockers__compartments", filter=free_q, distinct=True),
    )
