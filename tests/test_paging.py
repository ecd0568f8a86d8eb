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
