"""Where a signed request's credential is looked up and its nonce remembered.

Two stores behind one interface, chosen by REDIS_URL:

- `DatabaseStore` (no REDIS_URL: development, the demo on SQLite): every request reads
  the credential with its locker and site in one written-out join, and records its
  nonce as a unique (locker, nonce) row once the signature has matched.
- `RedisStore` (production): one Redis command per request (a script) reads the
  locker's trust token (`trust`) and records the nonce with `SET NX` and an expiry; the credential
  comes from the worker's own memory while its token is current, from the database
  otherwise. A request refused after that round trip removes the nonce it recorded,
  so a refusal leaves nothing behind. If Redis cannot be reached, the request is
  refused with 503 (`DeviceStoreUnavailable`): the database does not hold the nonces
  Redis accepted, so checking it alone would let a replay through.

Both give the request fresh model instances: nothing a request does to its locker or
credential is seen by another request.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from django.core.signals import setting_changed
from django.db import IntegrityError, models
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from lockers.models import DeviceCredential, DeviceNonce, Locker, Site
from lockers_site import rows

from . import trust
from .credentials import Secrets, credential_secrets
from .errors import DeviceStoreUnavailable, NonceReused

# A cached credential is read again after this long even if no change was announced:
# the bound on trusting a change whose token renewal could not reach Redis.
CACHE_MAX_AGE_SECONDS = 600.0
# Lockers a worker remembers (a US-sized network has 15,000); past it the memory starts over.
CACHE_CAPACITY = 50_000
# How far a request's timestamp may be from the server clock (checked in auth).
CLOCK_SKEW = timedelta(minutes=5)
# A nonce must be remembered as long as a request carrying it could still pass the clock check.
NONCE_RETENTION = 2 * CLOCK_SKEW
NONCE_RETENTION_SECONDS = int(NONCE_RETENTION.total_seconds())
SERIAL_MAX_LENGTH = Locker._meta.get_field("serial_number").max_length


@dataclass(frozen=True)
class Found:
    credential: DeviceCredential  # with .locker and .locker.site loaded
    secrets: Secrets


class Visit(Protocol):
    """One request's look-up: its credential (None for an unknown serial) and its nonce's fate."""

    found: Found | None

    def accept(self) -> None:
        """The request is authentic: its nonce is used up. Raises NonceReused for a replay."""

    def refuse(self) -> None:
        """The request is refused: leave no trace of it."""


# --- the credential row ----------------------------------------------------------------

# What a signed request needs of its credential, locker and site; other fields load on access.
_CREDENTIAL_ROW = (
    rows.Part(DeviceCredential, "c", ("id", "locker_id", "secret_encrypted", "previous_secret_encrypted",
                                      "previous_valid_until", "rotation_requested_at", "revoked_at")),
    rows.Part(Locker, "l", ("id", "site_id", "serial_number", "status")),
    rows.Part(Site, "s", ("id", "time_zone")),
)


@functools.cache
def _credential_sql() -> str:
    credential, locker, site = _CREDENTIAL_ROW
    return (f"SELECT {rows.select_list(_CREDENTIAL_ROW)} FROM {credential.table} "
            f"JOIN {locker.table} ON {locker.col('id')} = {credential.col('locker')} "
            f"JOIN {site.table} ON {site.col('id')} = {locker.col('site')} "
            f"WHERE {locker.col('serial_number')} = %s")


def credential_row(serial: str) -> tuple[Any, ...] | None:
    """The raw row of the locker's credential, locker and site, or None for an unknown serial.

    Written out (`lockers_site.rows`): the ORM's compilation of this join cost more CPU
    than the query itself.
    """
    found = rows.execute(_credential_sql(), [serial])
    return found[0] if found else None


def credential_load(row: tuple[Any, ...]) -> DeviceCredential:
    """Fresh instances from a credential row: the credential, with its locker and the locker's site."""
    credential, locker, site = rows.load_row(_CREDENTIAL_ROW, row)
    locker.site = site
    credential.locker = locker
    return credential


def _copied(instance: models.Model) -> models.Model:
    """A new instance with `instance`'s loaded field values and no cached relations, as `from_db` builds.

    The values are shared, which is safe as they are immutable (ids, text, datetimes);
    a request that assigns a field changes its own copy only.
    """
    values = ((name, value) for name, value in instance.__dict__.items() if name != "_state")
    return rows.built(instance.__class__, values, instance._state.db)


def credential_copy(credential: DeviceCredential) -> DeviceCredential:
    """Fresh instances equal to a loaded credential, its locker and their site, for every request.

    10 µs of CPU where `credential_load` of the cached row took 45 to 50 (converting the
    row's values and `from_db`), measured in process on the bench machine.
    """
    locker = _copied(credential.locker)
    locker.site = _copied(credential.locker.site)
    fresh = _copied(credential)
    fresh.locker = locker
    return fresh


# --- the database store ----------------------------------------------------------------


@dataclass
class DatabaseVisit:
    found: Found | None
    nonce: str
    seen_at: datetime

    def accept(self) -> None:
        """Insert the nonce alone (autocommit): its unique row refuses a replay, even a racing one.

        Called only for a request whose credential was found and whose signature matched.
        """
        locker_id = self.found.credential.locker_id if self.found else None
        try:
            with rows.alone():
                rows.insert(DeviceNonce, {"locker": locker_id, "nonce": self.nonce, "seen_at": self.seen_at})
        except IntegrityError as error:
            raise NonceReused() from error

    def refuse(self) -> None:
        """Nothing was written before the request was judged."""


class DatabaseStore:
    def visit(self, serial: str, nonce: str, now: datetime) -> DatabaseVisit:
        row = credential_row(serial)
        found = None
        if row is not None:
            credential = credential_load(row)
            found = Found(credential=credential, secrets=credential_secrets(credential))
        return DatabaseVisit(found=found, nonce=nonce, seen_at=now)


# --- the Redis store -------------------------------------------------------------------


@dataclass(frozen=True)
class _Cached:
    token: str
    credential: DeviceCredential  # never handed out: each request gets a `credential_copy`
    secrets: Secrets
    loaded_at: float


@dataclass
class RedisVisit:
    found: Found | None
    client: redis.Redis
    nonce_key: str
    nonce_was_new: bool
    # The script gives any serial a token that never expires; one no locker has must not
    # stay, or requests with made-up serials would fill Redis until it refuses the writes
    # that revocations need.
    unknown_token_key: str | None = None

    def accept(self) -> None:
        if not self.nonce_was_new:
            raise NonceReused()

    def refuse(self) -> None:
        # Deleting a token only ever makes a worker read the database again.
        keys = [key for key in (self.nonce_key if self.nonce_was_new else None, self.unknown_token_key) if key]
        if keys:
            try:
                self.client.delete(*keys)
            except redis.RedisError as error:
                # The nonce then expires on its own; a device never sends the same one twice.
                trust.redis_unreachable(error)


class RedisStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._cached: dict[str, _Cached] = {}
        self._visit_script = trust.VisitScript(client)

    def visit(self, serial: str, nonce: str, now: datetime) -> RedisVisit | DatabaseVisit:
        if len(serial) > SERIAL_MAX_LENGTH:  # no locker has it: nothing to read, nothing to write
            return DatabaseVisit(found=None, nonce=nonce, seen_at=now)
        token_key, nonce_key = trust.token_key(serial), trust.nonce_key(serial, nonce)
        try:
            token, nonce_was_new = self._visit_script(token_key, nonce_key, trust.new_token(),
                                                      NONCE_RETENTION_SECONDS)
        except redis.RedisError as error:
            trust.redis_unreachable(error)
            raise DeviceStoreUnavailable() from error
        found = self._found(serial, token.decode())
        return RedisVisit(found=found, client=self.client, nonce_key=nonce_key, nonce_was_new=bool(nonce_was_new),
                          unknown_token_key=token_key if found is None else None)

    def _found(self, serial: str, token: str) -> Found | None:
        cached = self._cached.get(serial)
        if cached is None or cached.token != token or self._stale(cached):
            cached = self._read(serial, token)
            if cached is None:
                return None
        return Found(credential=credential_copy(cached.credential), secrets=cached.secrets)

    def _read(self, serial: str, token: str) -> _Cached | None:
        """The credential from the database, remembered under the token read before it."""
        self._cached.pop(serial, None)
        row = credential_row(serial)
        if row is None:
            return None  # an unknown serial is not remembered: it may be provisioned any time
        credential = credential_load(row)
        cached = _Cached(token=token, credential=credential, secrets=credential_secrets(credential),
                         loaded_at=time.monotonic())
        if len(self._cached) >= CACHE_CAPACITY:
            self._cached.clear()
        self._cached[serial] = cached
        return cached

    @staticmethod
    def _stale(cached: _Cached) -> bool:
        return time.monotonic() - cached.loaded_at > CACHE_MAX_AGE_SECONDS


_stores: dict[str, DatabaseStore | RedisStore] = {}


def device_store() -> DatabaseStore | RedisStore:
    """The process's store: Redis-backed with REDIS_URL, the database alone without."""
    client = trust.redis_client()
    name = "redis" if client is not None else "database"
    if name not in _stores:
        _stores[name] = RedisStore(client) if client is not None else DatabaseStore()
    return _stores[name]


@receiver(setting_changed)
def _forget_stores(*, setting: str, **kwargs: object) -> None:
    if setting in {"REDIS_URL", "DEVICE_REDIS_PREFIX"}:
        _stores.clear()


# --- what makes a cached credential stale ------------------------------------------------
# Services that change credentials with a queryset update call trust.device_trust_forget
# themselves (credentials.py); these catch saves and deletes, the admin's included.


@receiver(pre_save, sender=Locker)
def _locker_saving(sender: type[Locker], instance: Locker, **kwargs: object) -> None:
    if instance.pk is None or kwargs.get("raw") or trust.redis_client() is None:
        return
    stored = Locker.objects.filter(pk=instance.pk).values_list("serial_number", flat=True).first()
    instance._device_serials_saving = [instance.serial_number, stored or ""]
    trust.device_trust_forget(instance._device_serials_saving)


@receiver(post_save, sender=Locker)
def _locker_saved(sender: type[Locker], instance: Locker, **kwargs: object) -> None:
    # Outside a transaction the save commits only after pre_save, whose on_commit renewal
    # ran at once: a request reading the old row in between would cache it under the
    # newest token. Renewing once the row is written closes that.
    serials = instance.__dict__.pop("_device_serials_saving", None)
    if serials:
        trust.device_trust_forget(serials)


@receiver(post_delete, sender=Locker)
def _locker_deleted(sender: type[Locker], instance: Locker, **kwargs: object) -> None:
    trust.device_trust_forget([instance.serial_number])


@receiver(post_save, sender=Site)
def _site_saved(sender: type[Site], instance: Site, created: bool, **kwargs: object) -> None:
    if not created and not kwargs.get("raw"):  # the serials are read only if Redis is in use
        trust.device_trust_forget(Locker.objects.filter(site=instance).values_list("serial_number", flat=True))


@receiver(post_save, sender=DeviceCredential)
@receiver(post_delete, sender=DeviceCredential)
def _credential_changed(sender: type[DeviceCredential], instance: DeviceCredential, **kwargs: object) -> None:
    if not kwargs.get("raw"):
        trust.device_trust_forget_lockers([instance.locker_id])
