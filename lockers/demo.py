"""A believable demo network in Minneapolis and Saint Paul, built idempotently.

Every object is found by its natural key (size code, site code, serial number,
partner slug, username, badge number) before anything is created, so running the
seed again adds nothing. Company, site and person names are fictional; streets and
coordinates are real-ish so the map links land in the right neighbourhoods.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TextIO

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from carriers.models import CourierCredential, Partner, PartnerMember
from carriers.services import courier_credential_create
from parcels.demo import demo_parcels_ensure

from .models import Compartment, Locker, Site, SizeClass
from .services import compartments_set_condition, locker_lay_out, locker_record_heartbeat

DEMO_PASSWORD = "lockers-demo"
HEARTBEAT_SCHEDULE = "demo: locker heartbeats"
FIRMWARE = "3.4.2"

SIZE_CLASSES = [
    # code, name, height, width, depth (mm), max weight (g): InPost's A/B/C plus a bulky door.
    ("S", "Small (A)", 80, 380, 640, 25_000),
    ("M", "Medium (B)", 190, 380, 640, 25_000),
    ("L", "Large (C)", 410, 380, 640, 25_000),
    ("XL", "Extra large", 720, 380, 640, 30_000),
]

# Columns of doors, bottom up, each about 1.5 m of doors above a plinth. The
# terminal column has a screen and keypad above its few doors.
COLUMNS = {
    "small": "M M S S S S S S S S M",
    "mixed": "L M M S S S S M",
    "large": "L L M M S S",
    "xl": "XL L M",
    "chilled": "chilled: L M M M M",
}
TERMINAL_COLUMN = "M M S S"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _hours(weekdays: str | None, saturday: str | None = None, sunday: str | None = None) -> dict[str, list[list[str]]]:
    """Opening hours as the model stores them, from 'HH:MM-HH:MM' strings per day group."""

    def interval(text: str | None) -> list[list[str]]:
        return [text.split("-")] if text else []

    hours = {day: interval(weekdays) for day in WEEKDAYS}
    hours.update(sat=interval(saturday), sun=interval(sunday))
    return {day: spans for day, spans in hours.items() if spans}


@dataclass(frozen=True)
class LockerSpec:
    serial_number: str
    name: str
    columns: dict[str, int]
    hardware_model: str = "OL Bank 2"
    # Hours since the last heartbeat for a locker that shows offline; None: online.
    offline_for_hours: int | None = None
    never_seen: bool = False
    conditions: dict[str, str] = field(default_factory=dict)

    @property
    def layout(self) -> str:
        lines = [COLUMNS[kind] for kind, count in self.columns.items() for _ in range(count)]
        lines.insert(len(lines) // 2, TERMINAL_COLUMN)
        return "\n".join(lines)


@dataclass(frozen=True)
class SiteSpec:
    code: str
    name: str
    kind: str
    address_line: str
    city: str
    postal_code: str
    latitude: str
    longitude: str
    lockers: list[LockerSpec]
    opening_hours: dict[str, list[list[str]]] = field(default_factory=dict)
    status: str = Site.Status.ACTIVE
    directions: str = ""


K = Site.Kind
C = Compartment.Condition

SITES = [
    SiteSpec(
        "mpls-nicollet-mall",
        "Nicollet Mall Lockers",
        K.PUBLIC,
        "800 Nicollet Mall",
        "Minneapolis",
        "55402",
        "44.976520",
        "-93.272760",
        directions="Skyway level, beside the east elevators.",
        lockers=[
            LockerSpec(
                "OL-MSP-0001",
                "A",
                {"small": 6, "mixed": 8, "large": 3, "xl": 1},
                hardware_model="OL Bank 4",
                conditions={"A3": C.BROKEN, "E5": C.OUT_OF_SERVICE},
            ),
            LockerSpec("OL-MSP-0002", "B", {"small": 2, "mixed": 3, "large": 1}),
        ],
    ),
    SiteSpec(
        "mpls-lagoon-ave",
        "Lagoon Avenue Lockers",
        K.PUBLIC,
        "1320 Lagoon Ave",
        "Minneapolis",
        "55408",
        "44.949870",
        "-93.296210",
        lockers=[
            LockerSpec("OL-MSP-0003", "A", {"small": 3, "mixed": 5, "large": 2, "xl": 1}, conditions={"C2": C.DIRTY})
        ],
    ),
    SiteSpec(
        "stp-lowertown-station",
        "Lowertown Station Lockers",
        K.PUBLIC,
        "214 4th St E",
        "Saint Paul",
        "55101",
        "44.948030",
        "-93.086250",
        directions="Inside the main hall, opposite the ticket counters.",
        lockers=[
            LockerSpec("OL-MSP-0004", "A", {"small": 8, "mixed": 9, "large": 4, "xl": 2}, hardware_model="OL Bank 4"),
            LockerSpec("OL-MSP-0005", "B", {"small": 2, "mixed": 2, "large": 1}, offline_for_hours=3),
        ],
    ),
    SiteSpec(
        "mpls-central-ave-ne",
        "Central Avenue Lockers",
        K.PUBLIC,
        "2300 Central Ave NE",
        "Minneapolis",
        "55418",
        "45.010040",
        "-93.247120",
        lockers=[LockerSpec("OL-MSP-0006", "A", {"small": 2, "mixed": 3, "large": 1}, never_seen=True)],
    ),
    SiteSpec(
        "mpls-dinkytown",
        "Dinkytown Lockers",
        K.PUBLIC,
        "1320 4th St SE",
        "Minneapolis",
        "55414",
        "44.980760",
        "-93.236640",
        status=Site.Status.MAINTENANCE,
        lockers=[LockerSpec("OL-MSP-0007", "A", {"small": 2, "mixed": 2})],
    ),
    SiteSpec(
        "mpls-mill-district-residences",
        "Mill District Residences",
        K.RESIDENTIAL,
        "700 S 2nd St",
        "Minneapolis",
        "55401",
        "44.978310",
        "-93.258570",
        directions="Parcel room off the lobby; residents' fob opens the door.",
        lockers=[LockerSpec("OL-MSP-0008", "A", {"small": 3, "mixed": 3, "large": 2, "chilled": 1})],
    ),
    SiteSpec(
        "stp-grand-victoria-apartments",
        "Grand & Victoria Apartments",
        K.RESIDENTIAL,
        "870 Grand Ave",
        "Saint Paul",
        "55105",
        "44.940010",
        "-93.140220",
        lockers=[LockerSpec("OL-MSP-0009", "A", {"small": 1, "mixed": 2, "large": 1})],
    ),
    SiteSpec(
        "mpls-riverside-tech-campus",
        "Riverside Tech Campus",
        K.WORKPLACE,
        "2901 University Ave SE",
        "Minneapolis",
        "55414",
        "44.969870",
        "-93.210640",
        opening_hours=_hours("06:00-20:00"),
        lockers=[LockerSpec("OL-MSP-0010", "A", {"small": 2, "mixed": 3, "large": 1})],
    ),
    SiteSpec(
        "stp-midway-office-commons",
        "Midway Office Commons",
        K.WORKPLACE,
        "1600 University Ave W",
        "Saint Paul",
        "55104",
        "44.955620",
        "-93.167020",
        opening_hours=_hours("07:00-19:00"),
        lockers=[LockerSpec("OL-MSP-0011", "A", {"small": 1, "mixed": 2, "large": 1})],
    ),
    SiteSpec(
        "prairie-goods-roseville",
        "Prairie Goods Roseville",
        K.RETAIL_STORE,
        "1700 County Rd B2 W",
        "Roseville",
        "55113",
        "45.012880",
        "-93.170140",
        opening_hours=_hours("08:00-21:00", "08:00-21:00", "10:00-18:00"),
        directions="By the customer service desk, left of the main entrance.",
        lockers=[LockerSpec("OL-MSP-0012", "A", {"small": 2, "mixed": 4, "large": 2, "chilled": 2})],
    ),
    SiteSpec(
        "prairie-goods-bloomington",
        "Prairie Goods Bloomington",
        K.RETAIL_STORE,
        "8000 Lyndale Ave S",
        "Bloomington",
        "55420",
        "44.856300",
        "-93.288050",
        opening_hours=_hours("08:00-21:00", "08:00-21:00", "10:00-18:00"),
        lockers=[LockerSpec("OL-MSP-0013", "A", {"small": 2, "mixed": 3, "large": 2, "xl": 1, "chilled": 2})],
    ),
    SiteSpec(
        "prairie-goods-highland-park",
        "Prairie Goods Highland Park",
        K.RETAIL_STORE,
        "2080 Ford Pkwy",
        "Saint Paul",
        "55116",
        "44.917640",
        "-93.186080",
        opening_hours=_hours("08:00-21:00", "09:00-21:00", "10:00-17:00"),
        lockers=[LockerSpec("OL-MSP-0014", "A", {"small": 1, "mixed": 3, "large": 1, "chilled": 1})],
    ),
    SiteSpec(
        "mpls-lake-street-counter",
        "Lake Street Pickup Counter",
        K.STAFFED_POINT,
        "920 E Lake St",
        "Minneapolis",
        "55407",
        "44.948610",
        "-93.261940",
        opening_hours=_hours("08:00-20:00", "09:00-18:00"),
        directions="Counter inside the market hall; the lockers beside it take after-hours pickups.",
        lockers=[LockerSpec("OL-MSP-0015", "A", {"small": 1, "mixed": 2, "large": 1})],
    ),
    SiteSpec(
        "stp-payne-avenue-parcel-shop",
        "Payne Avenue Parcel Shop",
        K.STAFFED_POINT,
        "1000 Payne Ave",
        "Saint Paul",
        "55130",
        "44.969010",
        "-93.073050",
        opening_hours=_hours("09:00-19:00", "10:00-16:00"),
        lockers=[LockerSpec("OL-MSP-0016", "A", {"mixed": 3, "large": 1})],
    ),
]

CARRIERS = [
    ("northstar-parcel", "Northstar Parcel", "ops@northstar-parcel.example"),
    ("lakes-express", "Lakes Express", "dispatch@lakes-express.example"),
]
RETAILER = ("prairie-goods", "Prairie Goods", "stores@prairie-goods.example")

# username, email, partner slug (None: operator), role, store site codes
ACCOUNTS: list[tuple[str, str, str | None, str | None, tuple[str, ...]]] = [
    ("operator", "operator@openlockers.example", None, None, ()),
    ("northstar.admin", "admin@northstar-parcel.example", "northstar-parcel", PartnerMember.Role.ADMIN, ()),
    ("prairie.manager", "manager@prairie-goods.example", "prairie-goods", PartnerMember.Role.RETAIL_MANAGER, ()),
    (
        "prairie.roseville",
        "roseville@prairie-goods.example",
        "prairie-goods",
        PartnerMember.Role.STORE_ASSOCIATE,
        ("prairie-goods-roseville",),
    ),
]
# partner slug, courier name, badge number, PIN
COURIERS = [
    ("northstar-parcel", "Dana Whitfield", "NSP-2041", "246813"),
    ("lakes-express", "Marco Lindqvist", "LKX-0307", "913572"),
]


@dataclass
class SeedResult:
    created: Counter[str] = field(default_factory=Counter)
    logins: list[tuple[str, str, str, str]] = field(default_factory=list)
    couriers: list[tuple[str, str, str, str]] = field(default_factory=list)


def seed_demo(stdout: TextIO) -> SeedResult:
    """Build (or complete) the demo network and print how to log in."""
    result = SeedResult()
    with transaction.atomic():
        sizes_ensure(result)
        for spec in SITES:
            site_ensure(spec, result)
        partners_ensure(result)
        accounts_ensure(result)
        couriers_ensure(result)
        heartbeat_schedule_ensure(result)
        result.created["parcels"] += demo_parcels_ensure(stdout)
    demo_heartbeats_send()
    report(result, stdout)
    return result


def sizes_ensure(result: SeedResult) -> None:
    for code, name, height, width, depth, weight in SIZE_CLASSES:
        _, created = SizeClass.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "inner_height_mm": height,
                "inner_width_mm": width,
                "inner_depth_mm": depth,
                "max_weight_g": weight,
            },
        )
        result.created["size classes"] += created


def site_ensure(spec: SiteSpec, result: SeedResult) -> Site:
    site, created = Site.objects.get_or_create(
        code=spec.code,
        defaults={
            "name": spec.name,
            "kind": spec.kind,
            "status": spec.status,
            "address_line": spec.address_line,
            "city": spec.city,
            "region": "MN",
            "postal_code": spec.postal_code,
            "latitude": Decimal(spec.latitude),
            "longitude": Decimal(spec.longitude),
            "time_zone": "America/Chicago",
            "always_open": not spec.opening_hours,
            "opening_hours": spec.opening_hours,
            "directions": spec.directions,
        },
    )
    result.created["sites"] += created
    for locker_spec in spec.lockers:
        locker_ensure(site, locker_spec, result)
    return site


def locker_ensure(site: Site, spec: LockerSpec, result: SeedResult) -> Locker:
    last_seen = None
    if spec.offline_for_hours is not None:
        last_seen = timezone.now() - timedelta(hours=spec.offline_for_hours)
    locker, created = Locker.objects.get_or_create(
        serial_number=spec.serial_number,
        defaults={
            "site": site,
            "name": spec.name,
            "hardware_model": spec.hardware_model,
            "firmware_version": "" if spec.never_seen else FIRMWARE,
            "last_heartbeat_at": last_seen,
        },
    )
    result.created["lockers"] += created
    # Checked rather than tied to `created` so an interrupted earlier run is completed.
    if not locker.compartments.exists():
        doors = locker_lay_out(locker=locker, layout=spec.layout)
        result.created["compartments"] += len(doors)
        by_label = {door.label: door.pk for door in locker.compartments.all()}
        for label, condition in spec.conditions.items():
            compartments_set_condition(compartment_ids=[by_label[label]], condition=condition)
    return locker


def partners_ensure(result: SeedResult) -> None:
    for slug, name, email in CARRIERS:
        _, created = Partner.objects.get_or_create(
            slug=slug, defaults={"name": name, "kind": Partner.Kind.CARRIER, "contact_email": email}
        )
        result.created["partners"] += created
    slug, name, email = RETAILER
    retailer, created = Partner.objects.get_or_create(
        slug=slug, defaults={"name": name, "kind": Partner.Kind.RETAILER, "contact_email": email}
    )
    result.created["partners"] += created
    retailer.stores.add(*Site.objects.filter(kind=Site.Kind.RETAIL_STORE, code__startswith=f"{slug}-"))


def accounts_ensure(result: SeedResult) -> None:
    for username, email, partner_slug, role, store_codes in ACCOUNTS:
        user = _user_ensure(username, email, is_operator=partner_slug is None, result=result)
        partner_name = "network operator (admin)"
        if partner_slug is not None and role is not None:
            partner = Partner.objects.get(slug=partner_slug)
            member, created = PartnerMember.objects.get_or_create(partner=partner, user=user, defaults={"role": role})
            result.created["partner members"] += created
            member.stores.add(*Site.objects.filter(code__in=store_codes))
            partner_name = f"{partner.name}, {PartnerMember.Role(role).label.lower()}"
        result.logins.append((partner_name, username, email, DEMO_PASSWORD))


def _user_ensure(username: str, email: str, *, is_operator: bool, result: SeedResult) -> AbstractUser:
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": email, "is_staff": is_operator, "is_superuser": is_operator}
    )
    if created:
        # Only on creation: a demo user who changed their password keeps it.
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        result.created["users"] += 1
    # Verified, so the email log-in (allauth) accepts the printed address.
    _, created = EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    result.created["email addresses"] += created
    return user


def couriers_ensure(result: SeedResult) -> None:
    for slug, courier_name, badge, pin in COURIERS:
        partner = Partner.objects.get(slug=slug)
        if not CourierCredential.objects.filter(badge_number=badge).exists():
            courier_credential_create(partner=partner, courier_name=courier_name, badge_number=badge, pin=pin)
            result.created["courier credentials"] += 1
        result.couriers.append((partner.name, courier_name, badge, pin))


def heartbeat_schedule_ensure(result: SeedResult) -> None:
    # The demo has no devices; without this every locker would drift offline
    # LOCKER_OFFLINE_AFTER after the seed. The django-q2 worker runs it.
    _, created = Schedule.objects.get_or_create(
        name=HEARTBEAT_SCHEDULE,
        defaults={
            "func": "lockers.tasks.demo_heartbeats_send",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    result.created["task schedules"] += created


def demo_heartbeats_send() -> int:
    """Heartbeat every demo locker that is meant to look online. Returns how many."""
    online = [
        locker.serial_number
        for site in SITES
        for locker in site.lockers
        if locker.offline_for_hours is None and not locker.never_seen
    ]
    lockers = list(Locker.objects.filter(serial_number__in=online))
    for locker in lockers:
        locker_record_heartbeat(locker=locker, firmware_version=FIRMWARE)
    return len(lockers)


def report(result: SeedResult, stdout: TextIO) -> None:
    created = ", ".join(f"{n} {what}" for what, n in result.created.items() if n)
    stdout.write(f"Demo network: created {created}.\n" if created else "Demo network already in place: nothing new.\n")
    stdout.write(
        f"{Site.objects.count()} sites, {Locker.objects.count()} lockers, "
        f"{Compartment.objects.count()} compartments.\n\n"
    )
    base = settings.SITE_URL.rstrip("/")
    stdout.write(f"Operator console: {base}/admin/ (sign in with the operator's email address)\n")
    stdout.write(f"Sign-in page for everyone: {base}/accounts/login/\n\n")
    stdout.write("Demo logins (username, email to sign in with, password):\n")
    for who, username, email, password in result.logins:
        stdout.write(f"  {who:<40} {username:<20} {email:<34} {password}\n")
    stdout.write("\nCourier credentials at the lockers (badge, PIN):\n")
    for partner, courier, badge, pin in result.couriers:
        stdout.write(f"  {partner + ', ' + courier:<40} {badge:<20} {pin}\n")
