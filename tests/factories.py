"""Minimal factory_boy factories: each builds a valid row with as little as possible."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from carriers.models import Partner
from lockers.models import Compartment, Locker, Site, SizeClass


class SizeClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SizeClass
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"size{n}")
    name = factory.LazyAttribute(lambda size: size.code.upper())
    inner_height_mm = 190
    inner_width_mm = 380
    inner_depth_mm = 640
    max_weight_g = 25_000


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.Sequence(lambda n: f"Site {n}")
    address_line = "1 Main St"
    city = "Minneapolis"
    postal_code = "55401"
    latitude = Decimal("44.977800")
    longitude = Decimal("-93.265000")


class LockerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Locker

    site = factory.SubFactory(SiteFactory)
    serial_number = factory.Sequence(lambda n: f"SN-{n:05d}")
    name = factory.Sequence(lambda n: f"L{n}")


class CompartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Compartment

    locker = factory.SubFactory(LockerFactory)
    size_class = factory.SubFactory(SizeClassFactory, code="M")
    column = factory.Sequence(lambda n: n + 1)
    row = 1
    label = factory.LazyAttribute(lambda door: f"C{door.column}R{door.row}")
    reach_height_mm = 900


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    kind = Partner.Kind.CARRIER


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery")
