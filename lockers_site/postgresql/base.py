"""Django's PostgreSQL backend, but its per-request health check asks the socket, not the server.

With CONN_HEALTH_CHECKS on, Django checks a persistent connection before each request's
first query with a `SELECT 1`: a round trip on every request that touches the database,
a sixth of a device heartbeat's. An idle connection has nothing to read; a server that
ended the session (restart, `pg_terminate_backend`, idle timeout) has sent its error and
closed the socket, which makes the socket readable. So a readable (or closed) socket
means "reconnect", checked without waiting. Anything else unexpected there (a notice
the server sent on its own) also just costs a reconnect. A connection lost without a
word (a dead network path) is caught by neither check until its first query fails.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.utils import CursorWrapper
from psycopg import pq


def socket_readable(fileno: int) -> bool:
    """Whether the socket has something to read (or was closed), without waiting.

    poll(), not select(): select() cannot take a descriptor of 1024 or more (ValueError),
    which a gthread worker holding many client connections reaches; every request would
    then judge its healthy connection unusable and reconnect.
    """
    poller = select.poll()
    poller.register(fileno, select.POLLIN)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        # A failed transaction fails Django's SELECT 1 too: the session can run nothing until rolled back.
        if connection.info.transaction_status in {pq.TransactionStatus.INERROR, pq.TransactionStatus.UNKNOWN}:
            return False
        try:
            return not socket_readable(connection.fileno())
        except (OSError, ValueError, psycopg.Error):  # the descriptor is gone
            return False

    _kept_cursor: CursorWrapper | None = None

    def kept_cursor(self) -> CursorWrapper:
        """A cursor kept open while this connection lasts, for statements run one after another.

        A new psycopg cursor starts with no dumpers: adapting a heartbeat's 19 parameters on
        a fresh one cost 15 to 35 µs more (docs/performance.md). The caller must not close
        it; it holds its last result until the next statement. Checked, connected and
        created as `cursor()` does; a new connection gets a new one.
        """
        self.close_if_health_check_failed()
        self.ensure_connection()
        self.validate_thread_sharing()
        kept = self._kept_cursor
        if kept is None or kept.cursor.closed or kept.cursor.connection is not self.connection:
            with self.wrap_database_errors:
                kept = self._kept_cursor = self._prepare_cursor(self.create_cursor())
        return kept
