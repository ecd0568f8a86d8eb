"""No index of ours repeats another: every index is written by every insert, so one that
another index's leading columns already cover costs writes and serves no look-up."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

OUR_APPS = {"lockers", "parcels", "carriers", "notifications", "accounts"}

# Pairs (covered, covering) of plain indexes (no condition, no expression) on one table where
# the first's columns, with their operator classes, lead the second's, and the first enforces nothing.
COVERED_INDEXES = """
SELECT covered_table.relname, covered_index.relname, covering_index.relname
FROM pg_index covered
JOIN pg_index covering ON covering.indrelid = covered.indrelid AND covering.indexrelid <> covered.indexrelid
JOIN pg_class covered_table ON covered_table.oid = covered.indrelid
JOIN pg_class covered_index ON covered_index.oid = covered.indexrelid
JOIN pg_class covering_index ON covering_index.oid = covering.indexrelid
WHERE covered_table.relname = ANY(%s)
  AND NOT covered.indisunique
  AND covered.indpred IS NULL AND covering.indpred IS NULL
  AND covered.indexprs IS NULL AND covering.indexprs IS NULL
  AND (covering.indkey::text || ' ') LIKE (covered.indkey::text || ' %%')
  AND (covering.indclass::text || ' ') LIKE (covered.indclass::text || ' %%')  -- the same operator classes
ORDER BY 1, 2
"""


def _our_tables() -> list[str]:
    # Many-to-many tables Django creates itself (auto_created) are left out: their indexes are Django's.
    return [model._meta.db_table for model in apps.get_models() if model._meta.app_label in OUR_APPS]


def test_no_index_is_covered_by_another_that_leads_with_its_columns():
    with connection.cursor() as cursor:
        cursor.execute(COVERED_INDEXES, [_our_tables()])
        covered = cursor.fetchall()

    assert covered == [], "indexes covered by another index's leading columns (set db_index=False): " + ", ".join(
        f"{table}.{index} by {by}" for table, index, by in covered
    )
