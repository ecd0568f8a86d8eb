"""A US-sized network in PostgreSQL, fast: 5,000 sites, 15,000 lockers, 900,000 doors, 5 million parcels.

Rows are streamed with COPY (psycopg 3 `cursor.copy`), ids given by us so rows can name
each other without a round trip, and the sequences moved past them at the end. Every
model constraint holds:

- a door holds at most one parcel, and a parcel has a door exactly while its status
  holds one (reserved, ready, expired): each active parcel takes a different door of
  its own site, and history parcels (picked up, returned, cancelled) have none;
- live pickup PINs are unique per site, seeds and hashes unique everywhere;
- tracking numbers are unique per partner; click-and-collect only at the retailer's stores.

Sizes follow a plausible network: about a third of the doors hold a parcel, a few
percent are reserved or expired, and the history spans a year (four to five custody
events per parcel). One template locker is laid out by the real `locker_lay_out`
service (inside a transaction rolled back) so door labels, reach heights and the
accessible flag are exactly what the product would make.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction

from carriers.models import Partner, PartnerMember
from lockers.demo import SeedResult, sizes_ensure
from lockers.device.credentials import secret_encrypt
from lockers.models import Compartment, DeviceCredential, Locker, Site, SizeClass
from lockers.services import locker_lay_out
from parcels import codes
from parcels.models import Parcel, ParcelEvent, ParcelStatus, PickupCode

# Door layout of every generated locker: six columns of ten, bottom up.
SCALE_LAYOUT = "\n".join(["l m m s s s s s s m", "m m s s s s s s s s", "l l m m s s s s m m"] * 2)
# (city, state, latitude, longitude, time zone) of the metros the sites cluster around.
METROS = [
    ("New York", "NY", 40.7128, -74.0060, "America/New_York"), ("Los Angeles", "CA", 34.0522, -118.2437,
    "America/Los_Angeles"), ("Chicago", "IL", 41.8781, -87.6298, "America/Chicago"),
    ("Houston", "TX", 29.7604, -95.3698, "America/Chicago"), ("Phoenix", "AZ", 33.4484, -112.0740, "America/Phoenix"),
    ("Philadelphia", "PA", 39.9526, -75.1652, "America/New_York"), ("San Antonio", "TX", 29.4241, -98.4936,
    "America/Chicago"), ("San Diego", "CA", 32.7157, -117.1611, "America/Los_Angeles"),
    ("Dallas", "TX", 32.7767, -96.7970, "America/Chicago"), ("Austin", "TX", 30.2672, -97.7431, "America/Chicago"),
    ("Jacksonville", "FL", 30.3322, -81.6557, "America/New_York"), ("San Jose", "CA", 37.3382, -121.8863,
    "America/Los_Angeles"), ("Columbus", "OH", 39.9612, -82.9988, "America/New_York"),
    ("Charlotte", "NC", 35.2271, -80.8431, "America/New_York"), ("Indianapolis", "IN", 39.7684, -86.1581,
    "America/Indiana/Indianapolis"), ("San Francisco", "CA", 37.7749, -122.4194, "America/Los_Angeles"),
    ("Seattle", "WA", 47.6062, -122.3321, "America/Los_Angeles"), ("Denver", "CO", 39.7392, -104.9903,
    "America/Denver"), ("Washington", "DC", 38.9072, -77.0369, "America/New_York"),
    ("Boston", "MA", 42.3601, -71.0589, "America/New_York"), ("Nashville", "TN", 36.1627, -86.7816,
    "America/Chicago"), ("Detroit", "MI", 42.3314, -83.0458, "America/Detroit"),
    ("Portland", "OR", 45.5152, -122.6784, "America/Los_Angeles"), ("Las Vegas", "NV", 36.1699, -115.1398,
    "America/Los_Angeles"), ("Atlanta", "GA", 33.7490, -84.3880, "America/New_York"),
    ("Miami", "FL", 25.7617, -80.1918, "America/New_York"), ("Minneapolis", "MN", 44.9778, -93.2650,
    "America/Chicago"), ("Kansas City", "MO", 39.0997, -94.5786, "America/Chicago"),
    ("Salt Lake City", "UT", 40.7608, -111.8910, "America/Denver"), ("Pittsburgh", "PA", 40.4406, -79.9959,
    "America/New_York"), ("St. Louis", "MO", 38.6270, -90.1994, "America/Chicago"),
    ("Cleveland", "OH", 41.4993, -81.6944, "America/New_York"), ("Tampa", "FL", 27.9506, -82.4572,
    "America/New_York"), ("Orlando", "FL", 28.5383, -81.3792, "America/New_York"),
    ("Sacramento", "CA", 38.5816, -121.4944, "America/Los_Angeles"), ("Raleigh", "NC", 35.7796, -78.6382,
    "America/New_York"), ("Milwaukee", "WI", 43.0389, -87.9065, "America/Chicago"),
    ("Baltimore", "MD", 39.2904, -76.6122, "America/New_York"), ("New Orleans", "LA", 29.9511, -90.0715,
    "America/Chicago"), ("Albuquerque", "NM", 35.0844, -106.6504, "America/Denver"),
]
CARRIERS = 4
RETAILERS = 2
STORES_PER_RETAILER = 150
# Shares of the parcels by status: the active ones are drawn as shares of the doors instead.
DOOR_SHARES = {ParcelStatus.READY_FOR_PICKUP: 0.30, ParcelStatus.RESERVED: 0.05, ParcelStatus.EXPIRED: 0.01}
ANNOUNCED_SHARE = 0.01
HISTORY_SHARES = ((ParcelStatus.PICKED_UP, 0.95), (ParcelStatus.RETURNED_TO_SENDER, 0.03),
                  (ParcelStatus.CANCELLED, 0.02))
# The custody events of each status's journey: (event type, from, to, days after creation).
JOURNEYS: dict[str, tuple[tuple[str, str, str, float], ...]] = {
    ParcelStatus.ANNOUNCED: (("announced", "", "announced", 0),),
    ParcelStatus.RESERVED: (("announced", "", "announced", 0), ("reserve", "announced", "reserved", 0.01)),
    ParcelStatus.READY_FOR_PICKUP: (("announced", "", "announced", 0), ("reserve", "announced", "reserved", 0.01),
                                    ("deposit", "reserved", "ready_for_pickup", 0.6)),
    ParcelStatus.EXPIRED: (("announced", "", "announced", 0), ("reserve", "announced", "reserved", 0.01),
                           ("deposit", "reserved", "ready_for_pickup", 0.6),
                           ("expire", "ready_for_pickup", "expired", 3.6)),
    ParcelStatus.PICKED_UP: (("announced", "", "announced", 0), ("reserve", "announced", "reserved", 0.01),
                             ("deposit", "reserved", "ready_for_pickup", 0.6),
                             ("pick_up", "ready_for_pickup", "picked_up", 1.4)),
    ParcelStatus.RETURNED_TO_SENDER: (("announced", "", "announced", 0), ("reserve", "announced", "reserved", 0.01),
                                      ("deposit", "reserved", "ready_for_pickup", 0.6),
                                      ("expire", "ready_for_pickup", "expired", 3.6),
                                      ("collect", "expired", "returned_to_sender", 4.2)),
    ParcelStatus.CANCELLED: (("announced", "", "announced", 0), ("cancel", "announced", "cancelled", 0.3)),
}
ACTORS = {"announced": "partner", "reserve": "partner", "deposit": "courier", "expire": "system",
          "pick_up": "recipient", "collect": "courier", "cancel": "partner"}
CHUNK_ROWS = 20_000
SCALE_CARRIER = "us-carrier-0"
SCALE_RETAILER = "us-retail-0"


@dataclass(frozen=True)
class ScaleSize:
    sites: int = 5_000
    lockers_per_site: int = 3
    parcels: int = 5_000_000
    seed: int = 2026


def _value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def copy_rows(table: str, columns: Iterable[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Stream `rows` into `table` with COPY (text format, written in chunks). Returns the row count.

    Values must hold no tab, newline or backslash: every generated value is plain.
    """
    count = 0
    quoted = ", ".join(connection.ops.quote_name(name) for name in columns)
    sql = f"COPY {table} ({quoted}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer: list[str] = []
        for row in rows:
            buffer.append("\t".join(map(_value, row)))
            count += 1
            if len(buffer) >= CHUNK_ROWS:
                copy.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            copy.write("\n".join(buffer) + "\n")
    return count


def _next_id(model: type) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")
        return cursor.fetchone()[0]


def _template_doors() -> list[tuple[str, int, int, int, int, bool, str]]:
    """One locker's doors exactly as `locker_lay_out` makes them (laid out, read, rolled back)."""
    with transaction.atomic():
        site = Site.objects.create(code="scale-template", name="template", address_line="-", city="-",
                                   postal_code="0", latitude=0, longitude=0)
        locker = Locker.objects.create(site=site, serial_number="scale-template", name="T")
        doors = [(door.label, door.size_class_id, door.column, door.row, door.reach_height_mm, door.accessible,
                  door.temperature_zone) for door in locker_lay_out(locker=locker, layout=SCALE_LAYOUT)]
        transaction.set_rollback(True)
    return doors


@contextmanager
def indexes_deferred(models: list[type]) -> Iterator[None]:
    """Drop the secondary indexes and unique constraints of `models`' tables, and build them again after.

    Building an index once from sorted rows is many times faster than updating it row by
    row; re-adding a unique constraint checks every row, so nothing escapes it. The
    primary keys stay (foreign keys point at them).
    """
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), con.conname, "
            "pg_get_constraintdef(con.oid) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype = 'u' "
            "WHERE t.relname = ANY(%s) AND NOT i.indisprimary", [tables])
        found = cursor.fetchall()
        for table, index, _, constraint, _ in found:
            if constraint:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
            else:
                cursor.execute(f"DROP INDEX {index}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for table, _, index_sql, constraint, constraint_sql in found:
            if constraint:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {constraint_sql}')
            else:
                cursor.execute(index_sql)


class Generator:
    """Writes the network, then the parcels with their events, reporting progress through `log`."""

    def __init__(self, size: ScaleSize, log: Callable[[str], None]) -> None:
        self.size = size
        self.log = log
        self.rng = random.Random(size.seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.started = time.monotonic()

    def step(self, what: str, count: int) -> None:
        self.log(f"{time.monotonic() - self.started:7.1f} s  {count:>10,} {what}")

    # --- the network -----------------------------------------------------------------------------

    def partners(self) -> tuple[list[int], list[int]]:
        carriers = [Partner.objects.create(name=f"US Carrier {i}", slug=f"us-carrier-{i}",
                                           kind=Partner.Kind.CARRIER).pk for i in range(CARRIERS)]
        retailers = [Partner.objects.create(name=f"US Retailer {i}", slug=f"us-retail-{i}",
                                            kind=Partner.Kind.RETAILER).pk for i in range(RETAILERS)]
        return carriers, retailers

    def sites(self) -> list[tuple[int, int, str]]:
        """(site id, metro index, kind) of every site written."""
        first, rng, made = _next_id(Site), self.rng, []
        retail_sites = RETAILERS * STORES_PER_RETAILER

        def rows() -> Iterator[tuple[Any, ...]]:
            for i in range(self.size.sites):
                metro = i % len(METROS)
                city, region, lat, lon, zone = METROS[metro]
                kind = Site.Kind.RETAIL_STORE if i < retail_sites else self.rng.choice(
                    [Site.Kind.PUBLIC, Site.Kind.PUBLIC, Site.Kind.RESIDENTIAL, Site.Kind.WORKPLACE])
                made.append((first + i, metro, kind))
                yield (first + i, f"us-{i:05d}", f"{city} Lockers {i:05d}", kind, Site.Status.ACTIVE,
                       f"{rng.randint(1, 9999)} Main St", city, region, f"{10000 + i % 89999:05d}", "US",
                       f"{lat + rng.gauss(0, 0.12):.6f}", f"{lon + rng.gauss(0, 0.15):.6f}", zone, True, "{}", "",
                       None, self.now, self.now)

        count = copy_rows(Site._meta.db_table, (
            "id", "code", "name", "kind", "status", "address_line", "city", "region", "postal_code", "country",
            "latitude", "longitude", "time_zone", "always_open", "opening_hours", "directions",
            "pickup_window_hours", "created_at", "updated_at"), rows())
        self.step("sites", count)
        return made

    def lockers(self, site_ids: list[int]) -> list[tuple[int, int]]:
        """(locker id, site id) of every locker written, with its device credential."""
        first, made = _next_id(Locker), []
        for site_id in site_ids:
            for _ in range(self.size.lockers_per_site):
                made.append((first + len(made), site_id))
        seen = self.now - timedelta(seconds=30)
        count = copy_rows(Locker._meta.db_table, (
            "id", "site_id", "serial_number", "name", "hardware_model", "firmware_version", "status",
            "last_heartbeat_at", "last_report", "created_at"),
            ((locker_id, site_id, f"US-{locker_id:07d}", chr(ord("A") + (locker_id - first) % 3), "OL-60",
              "3.4.2", Locker.Status.ACTIVE, seen, "{}", self.now) for locker_id, site_id in made))
        copy_rows(DeviceCredential._meta.db_table, (
            "locker_id", "provisioning_token_hash", "secret_encrypted", "previous_secret_encrypted",
            "secret_issued_at", "created_at"),
            ((locker_id, "", secret_encrypt(locker_id=locker_id, secret=f"scale-secret-{locker_id}"), "",
              self.now, self.now) for locker_id, _ in made))
        self.step("lockers with device credentials", count)
        return made

    def compartments(self, lockers: list[tuple[int, int]], template: list[tuple[Any, ...]]
                     ) -> tuple[dict[int, list[int]], dict[int, int]]:
        """Door ids by site id, and the locker id of each door."""
        first = _next_id(Compartment)
        by_site: dict[int, list[int]] = {}
        locker_of: dict[int, int] = {}

        def rows() -> Iterator[tuple[Any, ...]]:
            door_id = first
            for locker_id, site_id in lockers:
                doors = by_site.setdefault(site_id, [])
                for label, size_id, column, row, reach, accessible, zone in template:
                    doors.append(door_id)
                    locker_of[door_id] = locker_id
                    yield (door_id, locker_id, label, size_id, column, row, reach, accessible, zone,
                           Compartment.Condition.OK, Compartment.DoorState.CLOSED, self.now)
                    door_id += 1

        count = copy_rows(Compartment._meta.db_table, (
            "id", "locker_id", "label", "size_class_id", "column", "row", "reach_height_mm", "accessible",
            "temperature_zone", "condition", "door_state", "door_state_at"), rows())
        self.step("compartments", count)
        return by_site, locker_of

    # --- parcels ------------------------------------------------------------------------------------

    def _active(self, doors: dict[int, list[int]]) -> list[tuple[str, int, int]]:
        """(status, site id, door id) of the parcels holding doors: each takes its own door of its site."""
        held = []
        for site_id, site_doors in doors.items():
            free = list(site_doors)
            self.rng.shuffle(free)
            for status, share in DOOR_SHARES.items():
                held += [(status, site_id, free.pop()) for _ in range(round(len(site_doors) * share))]
        return held

    def _codes(self, held: list[tuple[str, int, int]]) -> dict[int, tuple[int, datetime]]:
        """Live pickup codes of the ready parcels, by index in `held`: (code id, deposit time)."""
        first, by_index, rows = _next_id(PickupCode), {}, []
        pins: dict[int, set[str]] = {}
        for index, (status, site_id, _) in enumerate(held):
            if status != ParcelStatus.READY_FOR_PICKUP:
                continue
            seed = codes.new_seed()
            while (pin := codes.pin_from_seed(seed)) in pins.setdefault(site_id, set()):
                seed = codes.new_seed()  # a live PIN is unique at its site
            pins[site_id].add(pin)
            deposited = self.now - timedelta(days=self.rng.uniform(0, 2.5))
            by_index[index] = (first + len(rows), deposited)
            rows.append((first + len(rows), site_id, PickupCode.Purpose.PICKUP, PickupCode.State.LIVE, seed,
                         codes.pin_hash(site_id, pin), codes.qr_hash(codes.qr_token_from_seed(seed)), deposited,
                         None))
        copy_rows(PickupCode._meta.db_table, ("id", "site_id", "purpose", "state", "seed", "pin_hash", "qr_hash",
                                              "created_at", "ended_at"), rows)
        self.step("live pickup codes", len(rows))
        return by_index

    def parcels(self, sites: list[tuple[int, int, str]], doors: dict[int, list[int]], lockers: dict[int, int],
                carriers: list[int], retailers: list[int]) -> None:
        rng = self.rng
        stores = [site_id for site_id, _, kind in sites if kind == Site.Kind.RETAIL_STORE]
        owner = {site_id: retailers[i // STORES_PER_RETAILER] for i, site_id in enumerate(stores)}
        site_ids = [site_id for site_id, _, _ in sites]
        small = SizeClass.objects.get(code__iexact="s").pk
        held = self._active(doors)
        announced = int(self.size.parcels * ANNOUNCED_SHARE)
        if self.size.parcels < len(held) + announced:
            raise ValueError(f"Too few parcels: {len(held) + announced} are needed just for the active ones.")
        codes_by_index = self._codes(held)
        first = _next_id(Parcel)
        tracking: dict[int, int] = dict.fromkeys(carriers + retailers, 0)
        journeys: list[tuple[int, str, int, int | None, datetime]] = []
        history_statuses = [status for status, _ in HISTORY_SHARES]
        history_weights = [weight for _, weight in HISTORY_SHARES]

        def rows() -> Iterator[tuple[Any, ...]]:
            for index in range(self.size.parcels):
                pid = first + index
                code = codes_by_index.get(index)
                if index < len(held):
                    status, site_id, door = held[index]
                elif index < len(held) + announced:
                    status, site_id, door = ParcelStatus.ANNOUNCED, rng.choice(site_ids), None
                else:
                    status = rng.choices(history_statuses, history_weights)[0]
                    site_id, door = rng.choice(site_ids), None
                active = index < len(held) + announced
                created = self.now - timedelta(days=rng.uniform(0, 2.5) if active else rng.uniform(5, 365))
                if code:
                    created = min(created, code[1] - timedelta(hours=14))
                journeys.append((pid, status, site_id, door, created))
                yield self._parcel(pid, status, site_id, door, created, code, owner, carriers, tracking, small)

        count = copy_rows(Parcel._meta.db_table, PARCEL_COLUMNS, rows())
        self.step("parcels", count)
        count = copy_rows(ParcelEvent._meta.db_table, EVENT_COLUMNS, self._events(journeys, lockers))
        self.step("parcel events", count)

    def _parcel(self, pid: int, status: str, site_id: int, door: int | None, created: datetime,
                code: tuple[int, datetime] | None, owner: dict[int, int], carriers: list[int],
                tracking: dict[int, int], small: int) -> tuple[Any, ...]:
        retailer = owner.get(site_id)
        if retailer and pid % 10 < 7:
            partner, kind = retailer, Parcel.Kind.CLICK_AND_COLLECT
        else:
            partner, kind = carriers[pid % len(carriers)], Parcel.Kind.DELIVERY
        tracking[partner] += 1
        times = {event: created + timedelta(days=after) for event, _, _, after in JOURNEYS[status]}
        deposited = code[1] if code else times.get("deposit")
        return (
            pid, partner, kind, f"US{partner:03d}{tracking[partner]:010d}", f"order-{pid}", status, "",
            f"Recipient {pid}", "", f"r{pid}@example.com", "en", small, None, None, None, 200 + pid % 9000, False,
            "ambient", site_id, door, code[0] if code else None, f"{pid:064x}", f"p{pid:063x}",
            created + timedelta(hours=4) if kind == Parcel.Kind.CLICK_AND_COLLECT else None,
            created + settings.RESERVATION_HOLD if status == ParcelStatus.RESERVED else None,
            deposited, deposited + settings.PICKUP_WINDOW if deposited else None, 0, times.get("pick_up"),
            created, max([*times.values(), deposited or created]),
        )

    def _events(self, journeys: list[tuple[int, str, int, int | None, datetime]],
                lockers: dict[int, int]) -> Iterator[tuple[Any, ...]]:
        for pid, status, site_id, door, created in journeys:
            for event, before, after, days in JOURNEYS[status]:
                here = door if after in ("reserved", "ready_for_pickup", "expired") else None
                yield (pid, event, before, after, "", created + timedelta(days=days), self.now, site_id,
                       lockers[here] if here else None, here, ACTORS[event], "", None, "{}")

    # --- the whole run -----------------------------------------------------------------------------

    def run(self) -> None:
        with connection.cursor() as cursor:
            # Foreign keys hold by construction (ids are ours) and are checked once at the end
            # (`verify`); row-by-row RI triggers would triple the time. CHECK and UNIQUE stay on.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET synchronous_commit = off")
        sizes_ensure(SeedResult())
        # Before any COPY: the template's rows take ids from the sequences, which COPY leaves behind.
        template = _template_doors()
        carriers, retailers = self.partners()
        sites = self.sites()
        lockers = self.lockers([site_id for site_id, _, _ in sites])
        with indexes_deferred([Compartment, Parcel, PickupCode, ParcelEvent]):
            doors, door_locker = self.compartments(lockers, template)
            self.stores(sites, retailers)
            self.parcels(sites, doors, door_locker, carriers, retailers)
        self.step("indexes and unique constraints built", 0)
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            for sql in connection.ops.sequence_reset_sql(no_style(), [Site, Locker, DeviceCredential, Compartment,
                                                                      Parcel, PickupCode, ParcelEvent]):
                cursor.execute(sql)
        self.verify()
        with connection.cursor() as cursor:
            # Statistics for the planner, and the visibility map index-only scans need (without it
            # "is this door free" visits the heap for every parcel holding a door): what
            # autovacuum gives a live database.
            cursor.execute("VACUUM (ANALYZE)")
        self.step("vacuumed and analyzed; done", 0)

    def stores(self, sites: list[tuple[int, int, str]], retailers: list[int]) -> None:
        stores = [site_id for site_id, _, kind in sites if kind == Site.Kind.RETAIL_STORE]
        through = Partner.stores.through
        through.objects.bulk_create([through(partner_id=retailers[i // STORES_PER_RETAILER], site_id=site_id)
                                     for i, site_id in enumerate(stores)])
        user = get_user_model().objects.create_user("us-retail-manager", "manager@us-retail.example", None)
        PartnerMember.objects.create(partner_id=retailers[0], user=user, role=PartnerMember.Role.RETAIL_MANAGER)
        self.step("retail stores", len(stores))

    def verify(self) -> None:
        """Every foreign key of the copied rows names an existing row (the checks COPY skipped)."""
        checks = [(model, field) for model in (Locker, DeviceCredential, Compartment, Parcel, PickupCode, ParcelEvent)
                  for field in model._meta.concrete_fields if field.is_relation]
        with connection.cursor() as cursor:
            for model, field in checks:
                table, target = model._meta.db_table, field.related_model._meta.db_table
                cursor.execute(f"SELECT count(*) FROM {table} t WHERE t.{field.column} IS NOT NULL AND NOT EXISTS "
                               f"(SELECT 1 FROM {target} r WHERE r.id = t.{field.column})")
                dangling = cursor.fetchone()[0]
                if dangling:
                    raise RuntimeError(f"{dangling} rows of {table}.{field.column} name no {target} row")
        self.step("foreign keys verified", len(checks))


PARCEL_COLUMNS = (
    "id", "partner_id", "kind", "tracking_number", "external_reference", "status", "status_reason", "recipient_name",
    "recipient_phone", "recipient_email", "recipient_language", "size_class_id", "length_mm", "width_mm",
    "height_mm", "weight_g", "needs_accessible", "temperature_need", "site_id", "compartment_id", "pickup_code_id",
    "page_seed", "page_token_hash", "promised_at", "hold_expires_at", "deposited_at", "pickup_deadline",
    "extensions_used", "picked_up_at", "created_at", "updated_at",
)
EVENT_COLUMNS = (
    "parcel_id", "type", "from_status", "to_status", "reason", "occurred_at", "recorded_at", "site_id", "locker_id",
    "compartment_id", "actor", "actor_label", "user_id", "details",
)
