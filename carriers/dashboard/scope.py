"""Who may see which store: the one gate every dashboard page goes through.

A retail manager sees every store of the retailer; a store associate sees the stores
of their membership that are also the retailer's stores. Anything else is a 404, so a
page never tells an outsider that an order or a store exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from carriers.models import Partner, PartnerMember
from lockers.models import Site
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel

STORE_ROLES = (PartnerMember.Role.RETAIL_MANAGER, PartnerMember.Role.STORE_ASSOCIATE)


@dataclass(frozen=True)
class StoreScope:
    """One store as one member of one retailer sees it."""

    member: PartnerMember
    site: Site

    @property
    def partner(self) -> Partner:
        return self.member.partner

    @property
    def is_manager(self) -> bool:
        return self.member.role == PartnerMember.Role.RETAIL_MANAGER

    def orders(self) -> QuerySet[Parcel]:
        """This retailer's click-and-collect orders at this store: the only parcels a page may read."""
        return Parcel.objects.filter(
            partner_id=self.member.partner_id, site_id=self.site.pk, kind=Parcel.Kind.CLICK_AND_COLLECT
        )

    def who(self) -> Who:
        """The store-staff actor recorded on every event a page causes."""
        user = self.member.user
        return Who(Actor.PARTNER, f"{self.partner.name} store staff: {user.get_username()}", user.pk)


def _memberships(user: AbstractBaseUser | AnonymousUser) -> QuerySet[PartnerMember]:
    if not user.is_authenticated:
        return PartnerMember.objects.none()
    return PartnerMember.objects.filter(
        user=user, role__in=STORE_ROLES, partner__kind=Partner.Kind.RETAILER, partner__is_active=True
    ).select_related("partner", "user")


def _visible_sites(member: PartnerMember) -> QuerySet[Site]:
    sites = Site.objects.filter(retailers=member.partner_id)
    if member.role == PartnerMember.Role.STORE_ASSOCIATE:
        sites = sites.filter(Q(partnermember=member))
    return sites


def store_scopes(user: AbstractBaseUser | AnonymousUser) -> list[StoreScope]:
    """Every store the user may open, grouped by retailer (one query per membership, usually one)."""
    return [
        StoreScope(member=member, site=site)
        for member in _memberships(user).order_by("partner__name")
        for site in _visible_sites(member).order_by("name")
    ]


def store_scope(user: AbstractBaseUser | AnonymousUser, *, partner_slug: str, site_code: str) -> StoreScope:
    """The store named in a URL, if this user may see it; `Http404` otherwise. Two queries."""
    member = _memberships(user).filter(partner__slug=partner_slug).first()
    site = _visible_sites(member).filter(code=site_code).first() if member else None
    if site is None:
        raise Http404("No such store.")
    return StoreScope(member=member, site=site)


def store_order(scope: StoreScope, order_id: int) -> Parcel:
    """One order of the store, with its door, or `Http404` (also for another store's order)."""
    order = (
        scope.orders()
        .select_related("compartment__locker", "compartment__size_class", "size_class")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise Http404("No such order at this store.")
    return order


def retail_manager(user: AbstractBaseUser | AnonymousUser, *, partner_slug: str) -> PartnerMember:
    """The user's retail-manager membership of the retailer named in a URL, or `Http404`."""
    member = _memberships(user).filter(partner__slug=partner_slug, role=PartnerMember.Role.RETAIL_MANAGER).first()
    if member is None:
        raise Http404("No such retailer.")
    return member
