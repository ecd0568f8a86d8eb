"""Trust tokens: how every worker process learns at once that a locker's credential changed.

With REDIS_URL set, each worker keeps the credentials it has read (`store.RedisStore`),
and every signed request reads its locker's trust token from Redis in the same round
trip that records its nonce. A cached credential is used only while the token it was
read under is still the current one. Anything that changes what a signed request is
checked against (the secrets, revocation, the locker's status, serial or site, the
site's time zone) gives the locker a new token here, so the next request of that
locker, in any worker, reads the database again.

A change gets its new token twice: before its transaction commits, so a change that
cannot reach Redis fails and rolls back instead of leaving workers trusting the old
credential; and again after the commit, because a request may have read the old row
between the first token and the commit and cached it under the new token.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.exceptions import NoScriptError
from redis.retry import Retry

from lockers.models import Locker

logger = logging.getLogger(__name__)

# A device request must not hang on an unreachable Redis: it is refused with a 503 instead.
# One immediate retry covers a pooled connection Redis has closed; more would only wait.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY = Retry(NoBackoff(), 1)
_clients: dict[str, redis.Redis] = {}


def redis_client() -> redis.Redis | None:
    """The process's Redis connection pool, or None without REDIS_URL (the database does everything)."""
    url = settings.REDIS_URL
    if not url:
        return None
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                             socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry=REDIS_RETRY)
    return _clients[url]


# A locker's keys share one hash tag: wherever Redis shards keys, the script's two stay together.
def token_key(serial: str) -> str:
    return f"{settings.DEVICE_REDIS_PREFIX}{{{serial}}}:trust"


def nonce_key(serial: str, nonce: str) -> str:
    return f"{settings.DEVICE_REDIS_PREFIX}{{{serial}}}:nonce:{nonce}"


# One round trip and one command per signed request: the locker's trust token (given a
# fresh one if it has none: a new locker, or a Redis that lost its memory) and the nonce,
# set only if it was never seen, with an expiry. Returns {token, 1 if the nonce is new}.
VISIT_SCRIPT = """
local token = redis.call('GET', KEYS[1])
if not token then
  token = ARGV[1]
  redis.call('SET', KEYS[1], token)
end
local new = redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2])
return {token, new and 1 or 0}
"""


class VisitScript:
    """`VISIT_SCRIPT` run on a connection of the calling thread's own: one EVALSHA, then its reply.

    redis-py's command path (pool checkout and release, the retry wrapper, its argument
    and observability hooks) took 60 of the 100 µs of client CPU a call cost; this sends
    the same command on a connection each thread keeps (closed when the thread ends).
    A connection that fails is closed by redis-py and the call is tried once more on a
    new one, as `REDIS_RETRY` does for other commands; a Redis that lost its scripts
    (restarted, `SCRIPT FLUSH`) is sent the script itself, which it then keeps again.
    Raises redis.RedisError as any other command does.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._sha = hashlib.sha1(VISIT_SCRIPT.encode()).hexdigest()
        self._own = threading.local()

    def __call__(self, token_key: str, nonce_key: str, token: str, expiry_seconds: int) -> list:
        arguments = (2, token_key, nonce_key, token, expiry_seconds)
        try:
            return self._run(arguments)
        except (redis.ConnectionError, redis.TimeoutError):
            return self._run(arguments)

    def _run(self, arguments: tuple) -> list:
        connection = self._connection()
        try:
            connection.send_command("EVALSHA", self._sha, *arguments)
            return connection.read_response()
        except NoScriptError:
            connection.send_command("EVAL", VISIT_SCRIPT, *arguments)
            return connection.read_response()

    def _connection(self) -> AbstractConnection:
        connection = getattr(self._own, "connection", None)
        # A process forked after a visit (a server preloading the app) must not share the parent's socket.
        if connection is None or self._own.pid != os.getpid():
            connection = self._own.connection = self._pool.connection_class(**self._pool.connection_kwargs)
            self._own.pid = os.getpid()
        return connection


def new_token() -> str:
    return secrets.token_hex(8)


def _tokens_renew(client: redis.Redis, serials: list[str]) -> None:
    pipeline = client.pipeline(transaction=False)
    for serial in serials:
        pipeline.set(token_key(serial), new_token())
    pipeline.execute()


def _tokens_renew_after_commit(client: redis.Redis, serials: list[str]) -> None:
    try:
        _tokens_renew(client, serials)
    except redis.RedisError:
        # The change is committed and its first renewal reached Redis; only a request that
        # read the old row in the instant before the commit may still trust it, until
        # store.CACHE_MAX_AGE. Worth an operator's look, not a failed request.
        logger.exception("Could not renew the trust tokens of %s after the commit", serials)


def device_trust_forget(serials: Iterable[str]) -> None:
    """Make every worker read these lockers' credentials again. Call inside the changing transaction.

    Raises redis.RedisError if Redis cannot be reached: the caller's change must then
    roll back, or workers would go on trusting what it changed.
    """
    client = redis_client()
    if client is None:
        return
    wanted = sorted({serial for serial in serials if serial})
    if not wanted:
        return
    _tokens_renew(client, wanted)
    transaction.on_commit(lambda: _tokens_renew_after_commit(client, wanted))


def device_trust_forget_lockers(locker_ids: Iterable[int]) -> None:
    """`device_trust_forget` for lockers named by id (their serials are read only if Redis is in use)."""
    device_trust_forget(Locker.objects.filter(pk__in=list(locker_ids)).values_list("serial_number", flat=True))


class _UnreachableLog:
    """Logs an unreachable Redis at most once a minute: during an outage every device request notices."""

    interval = 60.0
    last = float("-inf")

    @classmethod
    def note(cls, error: Exception) -> None:
        now = time.monotonic()
        if now - cls.last >= cls.interval:
            cls.last = now
            logger.warning("Redis unreachable (%s): signed device requests are refused (503)", error)


def redis_unreachable(error: Exception) -> None:
    _UnreachableLog.note(error)


@receiver(setting_changed)
def _forget_clients(*, setting: str, **kwargs: object) -> None:
    if setting == "REDIS_URL":
        _clients.clear()
