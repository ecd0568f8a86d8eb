"""Admin pagination for tables of millions of rows.

Counting 5 million parcels or 20 million events takes PostgreSQL seconds on every
changelist page, and grows with the table. An unfiltered list does not need the exact
number: the planner's estimate (`pg_class.reltuples`, kept by ANALYZE and autovacuum)
is free and close. A filtered list is counted exactly, through whatever index its
filter uses. Elsewhere (SQLite, small tables, estimate unknown) it counts as usual.
"""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections

# Below this many rows an exact count is cheap and nicer to read.
ESTIMATE_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is None or query.where or query.distinct or query.combinator:
            return super().count
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [queryset.model._meta.db_table])
            row = cursor.fetchone()
        estimate = row[0] if row else -1
        return estimate if estimate > ESTIMATE_ABOVE else super().count
