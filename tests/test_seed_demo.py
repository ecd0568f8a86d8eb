"""`manage.py seed_demo`: a believable demo network, built once however often it runs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from pytest_django.fixtures import Settings

from carriers.models import CourierCredential, Partner, PartnerMember
from carriers.services import courier_pin_matches
from lockers import demo
from lockers.models import Compartment, Locker, Site

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_running_it_twice_creates_nothing_new() -> None:
    seed()
    first = row_counts()

    output = seed()

    assert row_counts() == first
    assert "nothing new" in output


def test_it_builds_sites_of_every_kind_with_lockers_of_30_to_200_doors() -> None:
    seed()

    assert 12 <= Site.objects.count() <= 16
    assert set(Site.objects.values_list("kind", flat=True)) == set(Site.Kind.values)
    assert set(Site.objects.values_list("time_zone", flat=True)) == {"America/Chicago"}
    assert Site.objects.filter(always_open=False).exists()
    for locker in Locker.objects.all():
        assert 30 <= locker.compartments.count() <= 200, locker
    assert Compartment.objects.filter(temperature_zone=Compartment.TemperatureZone.CHILLED).exists()
    assert Compartment.objects.filter(accessible=True).exists()
    assert Compartment.objects.exclude(condition=Compartment.Condition.OK).exists()


def test_some_lockers_show_offline_and_the_rest_online() -> None:
    seed()

    offline = set(Locker.objects.offline().values_list("serial_number", flat=True))

    assert 1 < len(offline) < Locker.objects.count()
    assert offline == {
        locker.serial_number
        for site in demo.SITES
        for locker in site.lockers
        if locker.offline_for_hours or locker.never_seen
    }


def test_the_retailer_runs_its_store_sites_and_carriers_exist() -> None:
    seed()

    retailer = Partner.objects.get(kind=Partner.Kind.RETAILER)
    assert retailer.stores.count() == Site.objects.filter(kind=Site.Kind.RETAIL_STORE).count() >= 1
    assert Partner.objects.filter(kind=Partner.Kind.CARRIER).count() >= 2
    assert set(PartnerMember.objects.values_list("role", flat=True)) == {
        PartnerMember.Role.ADMIN,
        PartnerMember.Role.RETAIL_MANAGER,
        PartnerMember.Role.STORE_ASSOCIATE,
    }


def test_it_prints_logins_that_work_and_courier_pins_that_match() -> None:
    output = seed()

    assert "/admin/" in output
    assert demo.DEMO_PASSWORD in output
    for username, email, *_ in demo.ACCOUNTS:
        assert username in output and email in output
        assert authenticate(username=username, password=demo.DEMO_PASSWORD) is not None
    operator = authenticate(username="operator", password=demo.DEMO_PASSWORD)
    assert operator is not None and operator.is_superuser
    for _, _, badge, pin in demo.COURIERS:
        assert badge in output and pin in output
        assert courier_pin_matches(credential=CourierCredential.objects.get(badge_number=badge), pin=pin)
