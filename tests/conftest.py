"""Shared test set-up.

Tests marked `postgres` need the real PostgreSQL server (row locks, concurrency);
tests marked `browser` need Debian's headless Chromium, tests using `redis_settings`
a Redis server (REDIS_TEST_URL, by default database 15 on loopback). On a laptop
without them they skip with a reason; CI sets REQUIRE_POSTGRES=1 / REQUIRE_BROWSER=1 /
REQUIRE_REDIS=1, which turns such a skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
import redis
from django.db import connection

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _required(flag: str) -> bool:
    return os.environ.get(flag, "").strip() in {"1", "true", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        message = f"needs PostgreSQL (DATABASE_URL points at {connection.vendor})"
        if _required("REQUIRE_POSTGRES"):
            pytest.fail(f"REQUIRE_POSTGRES=1 but this test {message}")
        pytest.skip(message)
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        message = f"needs headless Chromium at {CHROMIUM}"
        if _required("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER=1 but this test {message}")
        pytest.skip(message)


def _skip_or_fail(flag: str, message: str) -> None:
    if _required(flag):
        pytest.fail(f"{flag}=1 but this test {message}")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _database_store_unless_redis_is_asked_for(settings):
    """A REDIS_URL in the environment must not reach tests that did not ask for `redis_settings`."""
    settings.REDIS_URL = ""


@pytest.fixture
def redis_settings(settings):
    """Settings with REDIS_URL at a real Redis, under a key prefix of this test's own; its keys go afterwards."""
    url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        _skip_or_fail("REQUIRE_REDIS", f"needs Redis at {url} ({error})")
    settings.REDIS_URL = url
    settings.DEVICE_REDIS_PREFIX = f"test:{uuid.uuid4().hex}:"
    yield settings
    keys = list(client.scan_iter(f"{settings.DEVICE_REDIS_PREFIX}*"))
    if keys:
        client.delete(*keys)


# --- a small network shared by the parcel tests ------------------------------------------


@pytest.fixture
def sizes(db):
    from lockers.models import SizeClass

    specs = [("s", "Small", 80), ("m", "Medium", 190), ("l", "Large", 410)]
    return {
        code: SizeClass.objects.create(
            code=code, name=name, inner_height_mm=height, inner_width_mm=380, inner_depth_mm=640, max_weight_g=25000
        )
        for code, name, height in specs
    }


@pytest.fixture
def site(sizes):
    from lockers.models import Site

    return Site.objects.create(
        code="loring-park", name="Loring Park Lockers", address_line="1382 Willow St", city="Minneapolis",
        postal_code="55403", latitude="44.969400", longitude="-93.283100",
    )


@pytest.fixture
def make_locker(site):
    from lockers.models import Locker
    from lockers.services import locker_lay_out

    def make(layout: str = "s s m m l\ns m l", *, at=None, serial: str | None = None) -> Locker:
        target = at or site
        serial = serial or f"SN-{target.pk}-{Locker.objects.count() + 1}"
        locker = Locker.objects.create(site=target, serial_number=serial, name=serial[-4:])
        locker_lay_out(locker=locker, layout=layout)
        return locker

    return make


@pytest.fixture
def locker(make_locker):
    return make_locker()


@pytest.fixture
def carrier(db):
    from carriers.models import Partner

    return Partner.objects.create(name="Northstar Parcel", slug="northstar", kind=Partner.Kind.CARRIER)


@pytest.fixture
def announce(carrier, site, sizes):
    """Announce a parcel through the service with sensible defaults."""
    from itertools import count

    from parcels.lifecycle import Who
    from parcels.models import Actor
    from parcels.services import ParcelSpec, Recipient, parcel_announce

    numbers = count(1)

    def make(**overrides):
        arguments = {
            "partner": carrier,
            "tracking_number": f"NS{next(numbers):08d}",
            "site": site,
            "recipient": Recipient(name="Ada Recipient", phone="+16125550100", email="ada@example.com"),
            "spec": ParcelSpec(size_class=sizes["s"]),
            "who": Who(Actor.PARTNER, "northstar"),
        }
        arguments.update(overrides)
        return parcel_announce(**arguments)

    return make
