"""Admin pagination: huge unfiltered tables are counted by the planner's estimate, everything else exactly."""

from __future__ import annotations

import pytest
from django.db import connection

from lockers.models import Site
from lockers_site import paging
from lockers_site.paging import EstimatedCountPaginator

pytestmark = pytest.mark.django_db


def _sites(count: int) -> None:
    Site.objects.bulk_create([
        Site(code=f"s{n}", name=f"S{n}", address_line="1 Main St", city="Minneapolis", postal_code="55401",
             latitude="44.97", longitude="-93.26")
        for n in range(count)
    ])


def test_a_filtered_or_small_list_is_counted_exactly():
    _sites(3)

    assert EstimatedCountPaginator(Site.objects.all(), 100).count == 3
    assert EstimatedCountPaginator(Site.objects.filter(code="s1"), 100).count == 1


@pytest.mark.postgres
def test_a_big_unfiltered_table_is_counted_by_the_planner_estimate(monkeypatch, django_assert_num_queries):
    _sites(5)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Site._meta.db_table}")
    monkeypatch.setattr(paging, "ESTIMATE_ABOVE", 1)

    with django_assert_num_queries(1) as captured:
        count = EstimatedCountPaginator(Site.objects.all(), 100).count

    assert count == 5
    assert "reltuples" in captured.captured_queries[0]["sql"]


@pytest.mark.postgres
def test_a_big_filtered_list_is_counted_by_the_planners_estimate_of_its_rows(monkeypatch, django_assert_num_queries):
    _sites(40)
    Site.objects.filter(code__in=["s1", "s2", "s3"]).update(city="Saint Paul")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Site._meta.db_table}")
    monkeypatch.setattr(paging, "ESTIMATE_ABOVE", 1)
    paginator = EstimatedCountPaginator(Site.objects.filter(city="Minneapolis").order_by("name"), 100)

    with django_assert_num_queries(1) as captured:
        count = paginator.count

    assert paginator.estimated
    assert count == 37  # the column's statistics know the split exactly at this size
    assert captured.captured_queries[0]["sql"].startswith("EXPLAIN")


def test_an_exact_count_is_not_marked_estimated():
    _sites(3)
    paginator = EstimatedCountPaginator(Site.objects.filter(city="Minneapolis"), 100)

    assert paginator.count == 3
    assert not paginator.estimated


@pytest.mark.postgres
def test_the_admin_list_says_about_before_an_estimated_count(monkeypatch, admin_client):
    from tests.factories import CompartmentFactory, LockerFactory

    CompartmentFactory.create_batch(3, locker=LockerFactory())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lockers_compartment")
    monkeypatch.setattr(paging, "ESTIMATE_ABOVE", 1)

    page = admin_client.get("/admin/lockers/compartment/?condition__exact=ok").content.decode()

    assert "about 3 compartments" in page
