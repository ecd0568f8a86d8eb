"""Admin pagination for tables of millions of rows.

Counting 5 million parcels or 20 million events takes PostgreSQL seconds on every
changelist page, and grows with the table; an exact count of the 270,000 parcels
ready for pickup still costs 40 ms. A big list does not need the exact number: an
unfiltered one takes the table's estimate (`pg_class.reltuples`, kept by ANALYZE
and autovacuum), a filtered one the planner's estimate of its rows (EXPLAIN, no
rows read). Only estimates above ESTIMATE_ABOVE are used, and the page says "about"
(templates/admin/pagination.html reads `estimated`); a smaller list, or one on
another database, is counted exactly.
"""

from __future__ import annotations

import json
from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

# Below this many rows an exact count is cheap and nicer to read.
ESTIMATE_ABOVE = 100_000


def _table_estimate(queryset: QuerySet) -> int:
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                       [queryset.model._meta.db_table])
        row = cursor.fetchone()
    return row[0] if row else -1


def _plan_estimate(queryset: QuerySet) -> int:
    # Only the rows matter: without the joins and sort of the page the plan is quicker to make.
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    # True once `count` is the planner's estimate rather than a count.
    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is None or query.distinct or query.combinator or connections[queryset.db].vendor != "postgresql":
            return super().count
        estimate = _plan_estimate(queryset) if query.where else _table_estimate(queryset)
        if estimate <= ESTIMATE_ABOVE:
            return super().count
        self.estimated = True
        return estimate
