"""Named reads for the partner API, the portal and the checkout widget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from lockers.models import Compartment, Site, SizeClass
from lockers.selectors import Availability, availability_of_sites
from parcels.allocation import distance_km, sites_near
from parcels.models import Parcel

from .models import Partner, WebhookDelivery


@dataclass
class SiteHit:
    """A site found by a search, with its free doors per size code and (if known) its distance."""

    site: Site
    free_by_size: dict[str, int]
    distance_km: float | None = None


@dataclass(frozen=True)
class SiteQuery:
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float = 5.0
    city: str = ""
    postal_code: str = ""
    open_now: bool = False
    accessible: bool = False
    temperature_zone: str = ""
    text: str = ""
    free_size: str = ""
    limit: int = 20


def free_doors_by_site(site_ids: list[int]) -> dict[int, dict[str, int]]:
    """Free doors per size code (of the sizes each site has, smallest first), for a whole page at once."""
    availability = availability_of_sites(site_ids)
    return {site_id: availability.get(site_id, Availability()).free_by_size for site_id in site_ids}


def _with_door(**door: object) -> Exists:
    return Exists(Compartment.objects.usable().filter(locker__site=OuterRef("pk"), **door))


def _text_match(text: str) -> Q:
    return (
        Q(postal_code__istartswith=text) | Q(city__icontains=text) | Q(address_line__icontains=text)
        | Q(name__icontains=text)
    )


def _has_free_size_or_larger(hit: SiteHit, size_codes: list[str], wanted: str) -> bool:
    larger = size_codes[size_codes.index(wanted):] if wanted in size_codes else []
    return any(hit.free_by_size.get(code, 0) for code in larger)


def site_search(query: SiteQuery, *, now: datetime | None = None) -> list[SiteHit]:
    """Active sites matching `query`, nearest first when a point (or a text match) gives one.

    A text search also returns the sites around what it matched (within the radius of
    their centre), so a postal code finds the lockers next door too. Free doors come
    from one grouped query for the whole result.
    """
    sites = Site.objects.filter(status=Site.Status.ACTIVE)
    if query.city:
        sites = sites.filter(city__iexact=query.city)
    if query.postal_code:
        sites = sites.filter(postal_code__iexact=query.postal_code)
    if query.accessible:
        sites = sites.filter(_with_door(accessible=True))
    if query.temperature_zone:
        sites = sites.filter(_with_door(temperature_zone=query.temperature_zone))
    latitude, longitude = query.latitude, query.longitude
    if query.text:
        matched = list(sites.filter(_text_match(query.text))[:200])
        if not matched:
            return []
        latitude = sum(float(site.latitude) for site in matched) / len(matched)
        longitude = sum(float(site.longitude) for site in matched) / len(matched)
        near = dict(sites_near(latitude, longitude, query.radius_km, sites))
        pairs = [(site, near.get(site, distance_km(latitude, longitude, site.latitude, site.longitude)))
                 for site in {*matched, *near}]
        pairs.sort(key=lambda pair: (pair[1], pair[0].name))
    elif latitude is not None and longitude is not None:
        pairs = sites_near(latitude, longitude, query.radius_km, sites)
    else:
        pairs = [(site, None) for site in sites.order_by("name")[:500]]
    moment = now or timezone.now()
    if query.open_now:
        pairs = [(site, km) for site, km in pairs if site.is_open_at(moment)]
    if not query.free_size:
        pairs = pairs[: query.limit]
    free = free_doors_by_site([site.pk for site, _ in pairs])
    hits = [SiteHit(site=site, free_by_size=free[site.pk], distance_km=km) for site, km in pairs]
    if query.free_size:
        size_codes = list(SizeClass.objects.values_list("code", flat=True))
        hits = [hit for hit in hits if _has_free_size_or_larger(hit, size_codes, query.free_size)]
    return hits[: query.limit]


def partner_parcels(partner: Partner) -> QuerySet[Parcel]:
    """The only parcels a partner may see or change."""
    return Parcel.objects.filter(partner=partner).select_related("site", "size_class", "compartment")


def partner_recent_deliveries(partner: Partner, *, limit: int = 50) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(endpoint__partner=partner)
        .select_related("event", "endpoint").order_by("-created_at")[:limit]
    )
