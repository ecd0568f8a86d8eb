"""Where device credentials are read and nonces kept (lockers.device.store, lockers.device.trust).

The checks every store must pass (replays, revocation at once, rotation) run on both
stores in test_device_auth.py; these are what each store does on its own: the
database's nonce rows, and Redis's cached credentials, trust tokens and outages.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter

import pytest
import redis
import time_machine
from django.utils import timezone
from django_q.models import Schedule

from lockers.device import store, trust
from lockers.device.credentials import device_credential_revoke, device_secret_rotate
from lockers.device.errors import NonceReused
from lockers.models import DeviceCredential, DeviceNonce, Locker
from lockers.tasks import device_nonces_forget
from tests.device_support import SignedClient

pytest_plugins = ["tests.device_support"]

HEARTBEAT = {"firmware_version": "2.0.1"}


def _visit(serial: str, nonce: str = "v" * 20) -> store.RedisVisit | store.DatabaseVisit:
    return store.device_store().visit(serial, nonce, timezone.now())


def _client(settings) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


# --- the database store ------------------------------------------------------------------


def test_without_redis_nonces_are_rows_and_old_ones_are_forgotten_by_the_scheduled_purge(device):
    assert isinstance(store.device_store(), store.DatabaseStore)
    device.post("heartbeat", HEARTBEAT)
    with time_machine.travel(time.time() + 11 * 60, tick=False):
        device.post("heartbeat", HEARTBEAT)
        assert DeviceNonce.objects.count() == 2
        assert device_nonces_forget() == 1
    assert DeviceNonce.objects.count() == 1  # the first one is gone, the new one kept
    assert Schedule.objects.get(func="lockers.tasks.device_nonces_forget").minutes == 1


def test_without_redis_every_request_reads_the_credential(provisioned, django_assert_num_queries):
    locker, _ = provisioned
    for _ in range(2):
        with django_assert_num_queries(1):
            assert _visit(locker.serial_number).found.credential.locker_id == locker.pk


# --- the Redis store ---------------------------------------------------------------------


def test_with_redis_a_worker_reads_a_credential_once_while_its_token_holds(
    redis_settings, provisioned, django_assert_num_queries
):
    locker, _ = provisioned
    with django_assert_num_queries(1):
        first = _visit(locker.serial_number, "a" * 20).found
    with django_assert_num_queries(0):
        second = _visit(locker.serial_number, "b" * 20).found

    assert second.credential.locker.serial_number == locker.serial_number
    # Each request gets its own instances: what one request does to them no other sees.
    assert second.credential is not first.credential and second.credential.locker is not first.credential.locker
    assert second.credential.locker.site is not first.credential.locker.site
    # Each is what the database gives: the same values, the same fields left to load on access.
    loaded = store.credential_load(store.credential_row(locker.serial_number))
    for got, expected in ((second.credential, loaded), (second.credential.locker, loaded.locker),
                          (second.credential.locker.site, loaded.locker.site)):
        assert got.get_deferred_fields() == expected.get_deferred_fields()
        fields = [field.attname for field in type(got)._meta.concrete_fields
                  if field.attname not in got.get_deferred_fields()]
        assert [getattr(got, name) for name in fields] == [getattr(expected, name) for name in fields]
        assert not got._state.adding
    second.credential.locker.status = Locker.Status.DECOMMISSIONED
    second.credential.locker.site.time_zone = "Asia/Tokyo"
    third = _visit(locker.serial_number, "c" * 20).found
    assert third.credential.locker.status == locker.status
    assert third.credential.locker.site.time_zone == locker.site.time_zone


def test_with_redis_nonces_are_kept_in_redis_with_an_expiry_not_in_the_database(redis_settings, device):
    assert isinstance(store.device_store(), store.RedisStore)
    assert device.post("heartbeat", HEARTBEAT, nonce="k" * 20).status_code == 200

    key = trust.nonce_key(device.locker.serial_number, "k" * 20)
    assert 0 < _client(redis_settings).ttl(key) <= store.NONCE_RETENTION.total_seconds()
    assert not DeviceNonce.objects.exists()
    assert device.post("heartbeat", HEARTBEAT, nonce="k" * 20).status_code == 401


def test_with_redis_a_refused_request_leaves_its_nonce_unused(redis_settings, device):
    refused = device.post("heartbeat", HEARTBEAT, nonce="r" * 20, secret="guessed")

    assert refused.status_code == 401
    assert not _client(redis_settings).exists(trust.nonce_key(device.locker.serial_number, "r" * 20))
    assert device.post("heartbeat", HEARTBEAT, nonce="r" * 20).status_code == 200


def test_with_redis_of_racing_requests_with_one_nonce_exactly_one_is_let_through(redis_settings, provisioned):
    locker, _ = provisioned
    _visit(locker.serial_number, "w" * 20).accept()  # the credential is now cached: the threads read no database
    # Appended, not counted in place: `counter[key] += 1` from racing threads can lose an
    # increment (read, add and write are separate steps), a list's append cannot.
    outcomes: list[str] = []
    start = threading.Barrier(16)

    def one() -> None:
        start.wait()
        visit = _visit(locker.serial_number, "x" * 24)
        try:
            visit.accept()
            outcomes.append("accepted")
        except NonceReused:
            outcomes.append("replay")

    threads = [threading.Thread(target=one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(outcomes) == Counter({"accepted": 1, "replay": 15})


def test_with_redis_a_cached_credential_is_read_again_after_any_change_to_it(
    redis_settings, device, django_assert_num_queries
):
    serial = device.locker.serial_number
    assert device.post("heartbeat", HEARTBEAT).status_code == 200  # cached

    rotated = device_secret_rotate(credential=DeviceCredential.objects.get(locker=device.locker))

    # The new secret works at once in every worker: the rotation renewed the locker's token.
    assert device.post("heartbeat", HEARTBEAT, secret=rotated).status_code == 200
    site = device.locker.site
    site.time_zone = "Europe/Warsaw"
    site.save()
    with django_assert_num_queries(1):
        assert _visit(serial, "t" * 20).found.credential.locker.site.time_zone == "Europe/Warsaw"


def test_with_redis_a_locker_renamed_in_the_admin_is_forgotten_under_its_old_serial(redis_settings, device):
    assert device.post("heartbeat", HEARTBEAT).status_code == 200
    locker = Locker.objects.get(pk=device.locker.pk)
    old_serial = locker.serial_number
    locker.serial_number = "SN-RENAMED"
    locker.save()

    assert _visit(old_serial, "o" * 20).found is None
    renamed = SignedClient(device.client, locker, device.secret)
    assert renamed.post("heartbeat", HEARTBEAT).status_code == 200


def test_with_redis_a_credential_read_before_a_change_committed_is_not_trusted_after_it(
    redis_settings, provisioned, django_capture_on_commit_callbacks
):
    locker, _ = provisioned
    serial, redis_client = locker.serial_number, _client(redis_settings)
    row_before = store.credential_row(serial)
    with django_capture_on_commit_callbacks(execute=True):
        device_credential_revoke(locker_ids=[locker.pk])
        token_before_commit = redis_client.get(trust.token_key(serial)).decode()
        # Another worker read the row just before the commit and cached it under the new token.
        store.device_store()._cached[serial] = store._Cached(
            token=token_before_commit, credential=store.credential_load(row_before),
            secrets=store.credential_secrets(store.credential_load(row_before)), loaded_at=time.monotonic(),
        )

    assert redis_client.get(trust.token_key(serial)).decode() != token_before_commit
    assert _visit(serial).found.credential.revoked_at is not None


def test_with_redis_unreachable_device_requests_are_refused_and_change_nothing(settings, device):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    refused = device.post("heartbeat", HEARTBEAT, nonce="f" * 20)

    # The database alone does not hold the nonces Redis accepted: checking it would let a replay through.
    assert refused.status_code == 503
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/device_store_unavailable")
    assert not DeviceNonce.objects.exists()
    device.locker.refresh_from_db()
    assert device.locker.last_heartbeat_at is None


def test_with_redis_a_request_is_answered_after_redis_lost_its_scripts_and_its_connection(
    redis_settings, provisioned
):
    locker, _ = provisioned
    redis_client = _client(redis_settings)
    assert _visit(locker.serial_number, "a" * 20).nonce_was_new
    # Redis restarted: its script cache is empty and the worker's connection is gone.
    redis_client.script_flush()
    redis_client.client_kill_filter(_type="normal", skipme=True)

    visit = _visit(locker.serial_number, "b" * 20)

    assert visit.found.credential.locker_id == locker.pk
    assert visit.nonce_was_new
    assert not _visit(locker.serial_number, "b" * 20).nonce_was_new  # the replay is still caught


def test_with_redis_each_thread_sends_its_visit_on_a_connection_of_its_own(redis_settings, db):
    script = store.device_store()._visit_script
    serial = "SN-THREADS"
    connections, nonces_new = [], []

    def visit_in_a_thread(nonce: str) -> None:
        _token, new = script(trust.token_key(serial), trust.nonce_key(serial, nonce), trust.new_token(), 60)
        nonces_new.append(new)
        connections.append(script._own.connection)

    for nonce in ("c" * 20, "d" * 20):
        thread = threading.Thread(target=visit_in_a_thread, args=(nonce,))
        thread.start()
        thread.join()

    assert nonces_new == [1, 1]
    assert connections[0] is not connections[1]
    # A thread's connection ends with the thread: nothing else keeps it.
    ports = {connection._sock.getsockname()[1] for connection in connections}
    connections.clear()
    gc.collect()
    open_ports = {int(client["addr"].rsplit(":", 1)[1]) for client in _client(redis_settings).client_list()}
    assert not ports & open_ports


def test_with_redis_unreachable_a_revocation_fails_and_changes_nothing(settings, provisioned):
    locker, _ = provisioned
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    with pytest.raises(redis.RedisError):
        device_credential_revoke(locker_ids=[locker.pk])

    assert DeviceCredential.objects.get(locker=locker).revoked_at is None


def test_with_redis_a_cached_credential_is_read_again_after_its_maximum_age(
    redis_settings, provisioned, django_assert_num_queries, monkeypatch
):
    locker, _ = provisioned
    _visit(locker.serial_number, "m" * 20)
    monkeypatch.setattr(store, "CACHE_MAX_AGE_SECONDS", 0.0)
    with django_assert_num_queries(1):
        _visit(locker.serial_number, "n" * 20)


def test_with_redis_a_request_with_an_unknown_serial_leaves_no_key_behind(redis_settings, db):
    redis_client = _client(redis_settings)

    visit = _visit("SN-NOBODY-HAS-THIS", "u" * 20)
    assert visit.found is None
    visit.refuse()
    too_long = _visit("S" * (store.SERIAL_MAX_LENGTH + 1), "u" * 20)
    assert too_long.found is None
    too_long.refuse()

    assert not list(redis_client.scan_iter(f"{redis_settings.DEVICE_REDIS_PREFIX}*"))


@pytest.mark.django_db(transaction=True)
def test_with_redis_a_locker_saved_outside_a_transaction_gets_a_new_token_once_the_row_is_written(
    redis_settings, provisioned, monkeypatch
):
    locker, _ = provisioned
    renew = trust._tokens_renew
    seen_at_renewal: list[str] = []

    def renew_and_note(client: redis.Redis, serials: list[str]) -> None:
        seen_at_renewal.append(Locker.objects.get(pk=locker.pk).status)
        renew(client, serials)

    monkeypatch.setattr(trust, "_tokens_renew", renew_and_note)
    # Autocommit: pre_save's on_commit renewal runs at once, before the row is written.
    locker.status = Locker.Status.DECOMMISSIONED
    locker.save()

    # A request that read the old row before the write cached it under a token renewed since.
    assert seen_at_renewal[-1] == Locker.Status.DECOMMISSIONED
