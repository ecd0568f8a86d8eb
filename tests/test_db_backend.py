"""The PostgreSQL backend's health check (lockers_site.postgresql): no round trip, and a dead session is replaced."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lockers_site import rows

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate(backend_pid: int) -> None:
    params = connection.settings_dict
    with psycopg.connect(host=params["HOST"], port=params["PORT"] or 5432, dbname=params["NAME"],
                         user=params["USER"], password=params["PASSWORD"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])


def _unusable_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not connection.is_usable():
            return True
        time.sleep(0.05)
    return False


def test_a_live_idle_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()

    def no_query(*args: object, **kwargs: object) -> None:
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(connection.connection, "cursor", no_query)
    monkeypatch.setattr(connection.connection, "execute", no_query)

    assert connection.is_usable()


def test_a_session_the_server_ended_is_noticed_and_the_next_request_reconnects():
    connection.ensure_connection()
    assert connection.health_check_enabled
    ended = connection.connection.info.backend_pid

    _terminate(ended)

    assert _unusable_within(5.0)
    connection.health_check_done = False  # what every new request starts with
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (now_serving,) = cursor.fetchone()
    assert now_serving != ended


def test_the_socket_check_takes_a_descriptor_past_select_s_limit_of_1024():
    import os
    import socket

    from lockers_site.postgresql.base import socket_readable

    ours, theirs = socket.socketpair()
    high = os.dup2(ours.fileno(), 1500)  # a gthread worker with many clients gets such descriptors
    try:
        assert not socket_readable(high)
        theirs.send(b"E")
        assert socket_readable(high)
    finally:
        os.close(high)
        ours.close()
        theirs.close()


def test_a_connection_left_in_a_failed_transaction_is_unusable():
    connection.ensure_connection()
    raw = connection.connection
    raw.execute("BEGIN")
    with pytest.raises(psycopg.errors.DivisionByZero):
        raw.execute("SELECT 1 / 0")
    try:
        assert not connection.is_usable()  # as Django's SELECT 1 would fail here
    finally:
        raw.execute("ROLLBACK")
    assert connection.is_usable()


def _backend_pid_by_rows() -> int:
    (pid,) = rows.execute("SELECT pg_backend_pid()", [])[0]
    return pid


def test_the_hand_written_statements_share_one_cursor_for_the_connection_s_life():
    first_pid = _backend_pid_by_rows()
    kept = connection.kept_cursor()
    assert _backend_pid_by_rows() == first_pid and connection.kept_cursor() is kept  # the same, still open
    assert not kept.cursor.closed

    _terminate(first_pid)
    assert _unusable_within(5.0)
    connection.health_check_done = False  # what every new request starts with

    assert _backend_pid_by_rows() != first_pid  # the dead session replaced, with a new cursor
    assert connection.kept_cursor() is not kept


def test_while_queries_are_logged_the_hand_written_statements_are_logged_too():
    with CaptureQueriesContext(connection) as captured:
        rows.execute("SELECT 1 AS logged", [])

    assert [query["sql"] for query in captured.captured_queries] == ["SELECT 1 AS logged"]
