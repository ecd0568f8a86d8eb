"""The benchmark's own data: provisioned lockers, parcels waiting with known codes, an API key.

Lockers, credentials, API key, courier and sessions go through the product's services.
The thousands of parcels the run consumes (one pickup code per validation, one
announced parcel per deposit) are written in bulk, as `generate_scale_data` does:
through the services they would take minutes, and the benchmark must run in ten.
Every row respects the models' constraints (one parcel per door, a held status has
its door, a live PIN is unique at its site).

Everything is created under a fresh tag, so a run can add its fixtures to a database
that already holds a US-sized network (`--scale`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.utils import timezone

from carriers.keys import api_key_create
from carriers.models import ApiKey, Partner, PartnerMember
from carriers.services import courier_credential_create
from lockers.demo import SeedResult, sizes_ensure
from lockers.device.courier import courier_session_open
from lockers.device.credentials import device_provisioning_exchange, device_provisioning_issue
from lockers.models import Locker, Site, SizeClass
from lockers.services import locker_lay_out
from parcels import codes
from parcels.keypad import keypad_guard_ensure
from parcels.models import Parcel, ParcelStatus, PickupCode

# Nine columns of ten doors, mostly small: a common street locker.
LOCKER_LAYOUT = "\n".join(["m m s s s s s s s s"] * 9)
DOORS_PER_LOCKER = 90
# The burst site: fewer doors than concurrent reservations, so some must be refused.
BURST_LAYOUT = "\n".join(["s s s s s s s s"] * 6)
BURST_DOORS = 48
COURIER_PIN = "2468"


@dataclass(frozen=True)
class Place:
    """Where a bench site stands: its town and the point its sites are scattered around."""

    city: str
    postal_code: str
    centre: tuple[float, float]


# Around Minneapolis, where the search benchmark looks.
NEAR = Place("Minneapolis", "55401", (44.9740, -93.2650))
# The search has always seen 45 device sites (with the announce and burst sites) around
# its point; the device sites beyond them are there for their codes alone and stand in
# Rochester, 120 km away, so the search measures the same neighbourhood as before.
SEARCHED_DEVICE_SITES = 45
FAR = Place("Rochester", "55901", (44.0121, -92.4802))


@dataclass(frozen=True)
class Sizing:
    """How much to prepare: device sites hold waiting parcels, announce sites stay empty."""

    device_sites: int = 75  # 15,750 codes: 3,600 for the ratio rounds, 1,200 and up to 15 s at 70%
    announce_sites: int = 20
    lockers_per_site: int = 3
    ready_per_locker: int = 70  # each one a pickup code to validate once
    deposits_per_locker: int = 15  # announced parcels for the courier to scan


def _site(tag: str, index: int, rng: random.Random, kind: str, place: Place = NEAR) -> Site:
    lat = Decimal(f"{place.centre[0] + rng.uniform(-0.03, 0.03):.6f}")
    lon = Decimal(f"{place.centre[1] + rng.uniform(-0.04, 0.04):.6f}")
    return Site.objects.create(
        code=f"bench-{tag}-{kind}-{index}", name=f"Bench {tag} {kind} {index}", address_line=f"{index} Bench St",
        city=place.city, region="MN", postal_code=place.postal_code, latitude=lat, longitude=lon,
    )


def _locker(site: Site, serial: str, layout: str) -> tuple[Locker, str]:
    locker = Locker.objects.create(site=site, serial_number=serial, name=serial[-6:])
    locker_lay_out(locker=locker, layout=layout)
    token = device_provisioning_issue(locker=locker)
    return locker, device_provisioning_exchange(serial_number=serial, token=token)


def _new_parcel(partner: Partner, tag: str, number: int, site: Site, size: SizeClass, **fields: Any) -> Parcel:
    seed = f"{tag}-{number}-{codes.new_seed()}"[:64]
    return Parcel(
        partner=partner, tracking_number=f"BN{tag}{number:07d}", site=site, size_class=size,
        recipient_name=f"Bench Recipient {number}", recipient_email=f"r{number}@bench.example",
        page_seed=seed, page_token_hash=codes.page_token_hash(codes.page_token_from_seed(seed)), **fields,
    )


def _live_codes(site: Site, count: int, taken: set[str]) -> list[tuple[PickupCode, str]]:
    """`count` live pickup codes at `site` with their PINs. A PIN in `taken` (the site's live ones,
    its other lockers' included) is drawn again; the new ones are added to it."""
    made: list[tuple[PickupCode, str]] = []
    while len(made) < count:
        seed = codes.new_seed()
        pin = codes.pin_from_seed(seed)
        if pin in taken:
            continue
        taken.add(pin)
        code = PickupCode(site=site, purpose=PickupCode.Purpose.PICKUP, seed=seed,
                          pin_hash=codes.pin_hash(site.pk, pin), qr_hash=codes.qr_hash(codes.qr_token_from_seed(seed)))
        made.append((code, pin))
    PickupCode.objects.bulk_create([code for code, _ in made])
    return made


def _ready_parcels(partner: Partner, tag: str, locker: Locker, count: int, first: int, size: SizeClass,
                   site_pins: set[str]) -> list[str]:
    """`count` parcels ready for pickup in `locker`'s first doors, each with its own code. Returns the PINs."""
    now = timezone.now()
    doors = list(locker.compartments.order_by("column", "row")[:count])
    issued = _live_codes(locker.site, len(doors), site_pins)
    Parcel.objects.bulk_create([
        _new_parcel(partner, tag, first + i, locker.site, size, status=ParcelStatus.READY_FOR_PICKUP,
                    compartment=door, pickup_code=code, deposited_at=now,
                    pickup_deadline=now + settings.PICKUP_WINDOW)
        for i, (door, (code, _)) in enumerate(zip(doors, issued, strict=True))
    ])
    return [pin for _, pin in issued]


def _announced(partner: Partner, tag: str, site: Site, count: int, first: int, size: SizeClass) -> list[str]:
    parcels = [_new_parcel(partner, tag, first + i, site, size, status=ParcelStatus.ANNOUNCED) for i in range(count)]
    Parcel.objects.bulk_create(parcels)
    return [parcel.tracking_number for parcel in parcels]


def _admin_session(tag: str) -> str:
    user = get_user_model().objects.create_superuser(f"bench-{tag}", f"bench-{tag}@bench.example", None)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def bench_fixtures_prepare(*, tag: str, sizing: Sizing, seed: int = 8) -> dict[str, Any]:
    """Create the run's data and return the plan the driver needs (secrets, codes, key, ids)."""
    rng = random.Random(seed)
    sizes_ensure(SeedResult())
    small = SizeClass.objects.get(code__iexact="s")
    with transaction.atomic():
        partner = Partner.objects.create(name=f"Bench Carrier {tag}", slug=f"bench-{tag}", kind=Partner.Kind.CARRIER)
    api_key = api_key_create(partner=partner, name="bench", scopes=[ApiKey.Scope.READ, ApiKey.Scope.WRITE]).plain
    badge = f"BENCH-{tag}"
    courier_credential_create(partner=partner, courier_name="Bench Courier", badge_number=badge, pin=COURIER_PIN)

    lockers: list[dict[str, Any]] = []
    code_pairs: list[list[str]] = []
    deposits: list[list[str]] = []
    number = 0
    for index in range(sizing.device_sites):
        site = _site(tag, index, rng, "device", NEAR if index < SEARCHED_DEVICE_SITES else FAR)
        site_pins: set[str] = set()  # a live PIN is unique at its site, across its lockers
        for unit in range(sizing.lockers_per_site):
            locker, secret = _locker(site, f"BN-{tag}-{index}-{unit}", LOCKER_LAYOUT)
            pins = _ready_parcels(partner, tag, locker, sizing.ready_per_locker, number, small, site_pins)
            # As on a running network, where the first code ever typed at a locker made its
            # keypad guard: else each locker's first code of the run would make it, in a
            # transaction, a once-in-a-locker's-life cost the run would count 135 times.
            keypad_guard_ensure(locker=locker)
            number += len(pins)
            tracking = _announced(partner, tag, site, sizing.deposits_per_locker, number, small)
            number += len(tracking)
            session = courier_session_open(locker=locker, badge_number=badge, pin=COURIER_PIN).token
            labels = list(locker.compartments.order_by("column", "row").values_list("label", flat=True)[:12])
            lockers.append({"serial": locker.serial_number, "secret": secret, "doors": labels})
            code_pairs += [[locker.serial_number, pin] for pin in pins]
            deposits += [[locker.serial_number, session, number] for number in tracking]
    announce_sites = []
    for index in range(sizing.announce_sites):
        site = _site(tag, index, rng, "announce")
        for unit in range(sizing.lockers_per_site):
            _locker(site, f"BA-{tag}-{index}-{unit}", LOCKER_LAYOUT)
        announce_sites.append({"id": site.pk, "doors": DOORS_PER_LOCKER * sizing.lockers_per_site})
    burst_site = _site(tag, 0, rng, "burst")
    _locker(burst_site, f"BB-{tag}-0", BURST_LAYOUT)
    rng.shuffle(code_pairs)
    rng.shuffle(deposits)
    with connection.cursor() as cursor:
        # Thousands of rows just written in bulk: give the planner the statistics and the
        # visibility map a live database has (autovacuum would, minutes later), or it plans
        # for empty tables and index-only scans visit the heap.
        cursor.execute("VACUUM (ANALYZE)")
    return {
        "tag": tag,
        "lockers": lockers,
        "codes": code_pairs,
        "deposits": deposits,
        "api_key": api_key,
        "announce_sites": announce_sites,
        "burst": {"site_id": burst_site.pk, "doors": BURST_DOORS},
        "search_point": list(NEAR.centre),
        "admin_session": _admin_session(tag),
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "partner_slug": partner.slug,
    }


def burst_outcome(*, site_id: int) -> dict[str, int]:
    """What the reservation burst left at its site: parcels holding doors, and doors held twice (must be 0)."""
    held = Parcel.objects.filter(site_id=site_id, status=ParcelStatus.RESERVED)
    doors = held.values_list("compartment_id", flat=True)
    return {
        "reserved": held.count(),
        "distinct_doors": len(set(doors)),
        "doors_held_twice": len(list(doors)) - len(set(doors)),
        "announced_left_over": Parcel.objects.filter(site_id=site_id, status=ParcelStatus.ANNOUNCED).count(),
    }


def scale_pages_prepare(*, tag: str) -> dict[str, Any]:
    """For `--scale`: a key of the biggest generated carrier, and the bench superuser as its retailer's manager.

    The partner API lists are then read over millions of the partner's parcels, and the
    store dashboard over a generated store's orders.
    """
    from bench.scale import SCALE_CARRIER, SCALE_RETAILER

    carrier = Partner.objects.get(slug=SCALE_CARRIER)
    key = api_key_create(partner=carrier, name=f"bench {tag}", scopes=[ApiKey.Scope.READ]).plain
    retailer = Partner.objects.get(slug=SCALE_RETAILER)
    user = get_user_model().objects.get(username=f"bench-{tag}")
    PartnerMember.objects.create(partner=retailer, user=user, role=PartnerMember.Role.RETAIL_MANAGER)
    store = retailer.stores.order_by("pk").first()
    base = f"/store/{retailer.slug}/{store.code}/"
    return {
        "page_api_key": key,
        "extra_pages": [("store dashboard", base), ("store orders", base + "orders/"), ("store KPIs", base + "kpis/")],
    }
