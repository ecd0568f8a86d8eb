"""A heartbeat in its own transaction commits without waiting for the disk; nothing else does (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from lockers.models import Locker

pytest_plugins = ["tests.device_support"]
pytestmark = pytest.mark.postgres
WITHOUT_FLUSH = "set_config('synchronous_commit', 'off', true)"


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


class _Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_commits_without_flush_and_leaves_the_connection_durable_for_the_next_request(device):
    statements = _Statements()
    with connection.execute_wrapper(statements):
        answer = device.post("heartbeat", {"firmware_version": "2.1.0"})

    assert answer.status_code == 200
    assert sum(WITHOUT_FLUSH in sql for sql in statements.sql) == 1
    # Autocommit, as in production: the setting ended with the heartbeat's own transaction,
    # so the next request on this persistent connection (a code check, say) waits for the disk.
    assert _synchronous_commit() == "on"
    assert Locker.objects.get(pk=device.locker.pk).firmware_version == "2.1.0"


@pytest.mark.django_db
def test_a_heartbeat_inside_a_callers_transaction_leaves_its_commit_durable(device):
    with transaction.atomic():
        assert device.post("heartbeat", {"firmware_version": "2.1.0"}).status_code == 200
        assert _synchronous_commit() == "on"
