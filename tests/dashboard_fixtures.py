"""Fixtures of the store dashboard tests: a retailer with two stores, its staff, another retailer.

Test modules take them with `from tests.dashboard_fixtures import *`.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest

__all__ = [
    "associate", "associate_b", "client_of", "make_order", "manager", "other_manager", "other_retailer",
    "retailer", "staff_user", "store_a", "store_b", "store_url",
]


@pytest.fixture
def store_a(site, locker):
    from lockers.models import Site

    Site.objects.filter(pk=site.pk).update(kind=Site.Kind.RETAIL_STORE)
    site.refresh_from_db()
    return site


@pytest.fixture
def store_b(sizes, make_locker):
    from lockers.models import Site

    store = Site.objects.create(
        code="uptown-store", name="Uptown Store", kind=Site.Kind.RETAIL_STORE, address_line="3001 Hennepin Ave",
        city="Minneapolis", postal_code="55408", latitude="44.948900", longitude="-93.298200",
    )
    make_locker("s m l", at=store)
    return store


@pytest.fixture
def retailer(store_a, store_b):
    from carriers.models import Partner

    partner = Partner.objects.create(name="Northwind Market", slug="northwind", kind=Partner.Kind.RETAILER)
    partner.stores.add(store_a, store_b)
    return partner


@pytest.fixture
def other_retailer(store_a):
    """Another retailer running click-and-collect from the same store's lockers."""
    from carriers.models import Partner

    partner = Partner.objects.create(name="Southwind Goods", slug="southwind", kind=Partner.Kind.RETAILER)
    partner.stores.add(store_a)
    return partner


@pytest.fixture
def staff_user(db) -> Callable:
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from carriers.models import PartnerMember

    def make(partner, role: str, stores=(), *, email: str) -> object:
        user = get_user_model().objects.create_user(username=email, email=email, password="correct horse battery")
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        member = PartnerMember.objects.create(partner=partner, user=user, role=role)
        member.stores.set(stores)
        return user

    return make


@pytest.fixture
def manager(staff_user, retailer):
    return staff_user(retailer, "retail_manager", email="mia.manager@northwind.example")


@pytest.fixture
def associate(staff_user, retailer, store_a):
    return staff_user(retailer, "store_associate", [store_a], email="sam.associate@northwind.example")


@pytest.fixture
def associate_b(staff_user, retailer, store_b):
    return staff_user(retailer, "store_associate", [store_b], email="bo.associate@northwind.example")


@pytest.fixture
def other_manager(staff_user, other_retailer):
    return staff_user(other_retailer, "retail_manager", email="max.manager@southwind.example")


@pytest.fixture
def client_of(client) -> Callable:
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def make_order(retailer, store_a, sizes) -> Callable:
    """Announce an order at a store through the dashboard's service."""
    from carriers.dashboard.scope import store_scope
    from carriers.dashboard.services import store_order_announce
    from carriers.models import PartnerMember
    from parcels.services import ParcelSpec, Recipient

    numbers = count(1)

    def make(store=None, *, number: str | None = None, size: str = "s", **spec):
        store = store or store_a
        member = PartnerMember.objects.filter(partner=retailer, role="retail_manager").first()
        if member is None:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.create_user(username="system-manager", email="sys@northwind.example")
            member = PartnerMember.objects.create(partner=retailer, user=user, role="retail_manager")
        scope = store_scope(member.user, partner_slug=retailer.slug, site_code=store.code)
        return store_order_announce(
            scope=scope, order_number=number or f"NW-{next(numbers):05d}",
            recipient=Recipient(name="Cora Customer", phone="+16125550142", email="cora@example.com"),
            spec=ParcelSpec(size_class=sizes[size], **spec),
        )

    return make


@pytest.fixture
def store_url(retailer) -> Callable[..., str]:
    from django.urls import reverse

    def url(name: str, store, **kwargs) -> str:
        return reverse(f"dashboard:{name}", kwargs={"partner": retailer.slug, "site": store.code, **kwargs})

    return url
