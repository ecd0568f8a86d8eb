"""Named reads of parcels for every surface."""

from __future__ import annotations

from django.db.models import QuerySet

from .codes import page_token_hash
from .lifecycle import STATUS_CATALOGUE
from .models import Parcel, ParcelEvent


def status_catalogue() -> list[dict[str, object]]:
    """The canonical statuses, as served by the API and shown on pages."""
    return [
        {"code": info.code, "title": info.title, "description": info.description, "terminal": info.terminal}
        for info in STATUS_CATALOGUE
    ]


def parcel_timeline(parcel: Parcel) -> QuerySet[ParcelEvent]:
    """Every custody event of a parcel, oldest first, in one query."""
    return ParcelEvent.objects.filter(parcel=parcel).select_related("site", "locker", "compartment").order_by(
        "occurred_at", "id"
    )


def parcel_by_page_token(token: str) -> Parcel | None:
    """The parcel a recipient's page link names, or None for an unknown token."""
    return (
        Parcel.objects.select_related("site", "compartment__locker", "pickup_code", "partner")
        .filter(page_token_hash=page_token_hash(token))
        .first()
    )
