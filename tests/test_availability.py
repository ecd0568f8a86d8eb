"""Whether a door is free is derived, never stored: `Compartment.objects.free()` and the selectors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from carriers.models import Partner
from lockers.models import Compartment, Locker, Site
from lockers.selectors import availability_of_lockers, availability_of_sites, free_by_size, network_totals
from parcels.models import Parcel, ParcelStatus
from tests.factories import CompartmentFactory, LockerFactory, PartnerFactory, SizeClassFactory

pytestmark = pytest.mark.django_db


def park_parcel(door: Compartment, status: str, *, partner: Partner | None = None) -> Parcel:
    # Written straight to the table: these tests are about availability, not the lifecycle.
    return Parcel.objects.create(
        partner=partner or PartnerFactory(),
        site=door.locker.site,
        compartment=door if status in Parcel.OCCUPYING_STATUSES else None,
        status=status,
        tracking_number=f"TRK-{door.pk}",
        recipient_name="Robin Tester",
        page_seed=f"seed-{door.pk}",
        page_token_hash=f"hash-{door.pk}",
    )


def test_a_door_in_good_condition_at_an_active_site_is_free() -> None:
    door = CompartmentFactory()

    assert list(Compartment.objects.free()) == [door]


@pytest.mark.parametrize(
    "condition",
    [Compartment.Condition.OUT_OF_SERVICE, Compartment.Condition.BROKEN, Compartment.Condition.DIRTY],
)
def test_a_door_that_is_not_ok_is_not_free(condition: str) -> None:
    CompartmentFactory(condition=condition)

    assert not Compartment.objects.free().exists()


def test_a_door_of_a_decommissioned_locker_is_not_free() -> None:
    CompartmentFactory(locker__status=Locker.Status.DECOMMISSIONED)

    assert not Compartment.objects.free().exists()


@pytest.mark.parametrize("status", [Site.Status.INACTIVE, Site.Status.MAINTENANCE, Site.Status.DECOMMISSIONED])
def test_a_door_at_a_site_that_is_not_active_is_not_free(status: str) -> None:
    CompartmentFactory(locker__site__status=status)

    assert not Compartment.objects.free().exists()


def test_a_door_held_by_a_reserved_parcel_is_not_free() -> None:
    door = CompartmentFactory()

    park_parcel(door, ParcelStatus.RESERVED)

    assert not Compartment.objects.free().exists()
    assert Compartment.objects.with_occupied().get().occupied


def test_a_door_whose_parcel_was_picked_up_is_free_again() -> None:
    door = CompartmentFactory()

    park_parcel(door, ParcelStatus.PICKED_UP)

    assert list(Compartment.objects.free()) == [door]


def test_free_by_size_counts_free_doors_per_size_code() -> None:
    locker = LockerFactory()
    small, medium = SizeClassFactory(code="S"), SizeClassFactory(code="M")
    CompartmentFactory.create_batch(3, locker=locker, size_class=small)
    CompartmentFactory(locker=locker, size_class=small, condition=Compartment.Condition.BROKEN)
    park_parcel(CompartmentFactory(locker=locker, size_class=medium), ParcelStatus.RESERVED)
    CompartmentFactory(locker=locker, size_class=medium)

    assert free_by_size(Compartment.objects.all()) == {"S": 3, "M": 1}


def test_availability_of_sites_and_lockers_counts_doors_and_free_doors_per_size() -> None:
    locker = LockerFactory()
    other = LockerFactory(site=locker.site)
    small, large = SizeClassFactory(code="S", inner_height_mm=80), SizeClassFactory(code="L", inner_height_mm=410)
    CompartmentFactory.create_batch(2, locker=locker, size_class=large)
    CompartmentFactory(locker=locker, size_class=small, condition=Compartment.Condition.OUT_OF_SERVICE)
    CompartmentFactory(locker=other, size_class=small)

    site = availability_of_sites([locker.site_id])[locker.site_id]
    by_locker = availability_of_lockers([locker.pk, other.pk])

    assert (site.doors, site.free, site.free_by_size) == (4, 3, {"S": 1, "L": 2})
    assert list(site.free_by_size) == ["S", "L"]  # smallest size first
    assert (by_locker[locker.pk].doors, by_locker[locker.pk].free_by_size) == (3, {"S": 0, "L": 2})
    assert by_locker[other.pk].free_by_size == {"S": 1}


def test_network_totals_count_offline_lockers_among_active_ones() -> None:
    stale = timezone.now() - settings.LOCKER_OFFLINE_AFTER - timedelta(seconds=1)
    LockerFactory(last_heartbeat_at=timezone.now())
    LockerFactory(last_heartbeat_at=stale)
    LockerFactory(last_heartbeat_at=None)
    LockerFactory(last_heartbeat_at=None, status=Locker.Status.DECOMMISSIONED)
    CompartmentFactory(size_class=SizeClassFactory(code="S"))

    totals = network_totals()

    assert (totals["sites"], totals["lockers"], totals["lockers_offline"]) == (5, 4, 3)
    assert [(size.code, free) for size, free in totals["free_by_size"]] == [("S", 1)]


def test_availability_counts_the_same_free_doors_as_the_free_queryset() -> None:
    locker = LockerFactory()
    CompartmentFactory(locker=locker)
    for condition in (Compartment.Condition.OUT_OF_SERVICE, Compartment.Condition.BROKEN, Compartment.Condition.DIRTY):
        CompartmentFactory(locker=locker, condition=condition)
    park_parcel(CompartmentFactory(locker=locker), ParcelStatus.READY_FOR_PICKUP)
    park_parcel(CompartmentFactory(locker=locker), ParcelStatus.PICKED_UP)
    retired = LockerFactory(site=locker.site, status=Locker.Status.DECOMMISSIONED)
    CompartmentFactory(locker=retired)
    closed = LockerFactory(site__status=Site.Status.MAINTENANCE)
    CompartmentFactory(locker=closed)

    by_locker = availability_of_lockers([locker.pk, retired.pk, closed.pk])

    free = Compartment.objects.free()
    assert {pk: a.free for pk, a in by_locker.items()} == {
        pk: free.filter(locker_id=pk).count() for pk in (locker.pk, retired.pk, closed.pk)
    } == {locker.pk: 2, retired.pk: 0, closed.pk: 0}
    assert availability_of_sites([locker.site_id])[locker.site_id].free == 2
