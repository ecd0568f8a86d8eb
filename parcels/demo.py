"""Demo parcels in every status, made through the real services so each has its timeline.

Idempotent: a parcel whose tracking number exists is left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from django.conf import settings

from carriers.models import Partner
from lockers.models import Locker, Site, SizeClass

from . import services
from .lifecycle import Who
from .models import Actor, Parcel, ParcelStatus
from .services import ParcelSpec, Recipient

DEMO = Who(Actor.SYSTEM, "demo data")
COURIER = Who(Actor.COURIER, "Dana Whitfield (demo)")
SITE_CODE = "mpls-nicollet-mall"
RECIPIENTS = [
    Recipient(name="Avery Johnson", phone="+16125550101", email="avery@example.com"),
    Recipient(name="Sofía Hernández", phone="+16515550102", email="sofia@example.com", language="es"),
    Recipient(name="Jordan Lee", phone="+16125550103"),
    Recipient(name="Priya Natarajan", email="priya@example.com"),
]


def _announce(partner: Partner, number: int, site: Site, *, reserve: bool) -> Parcel:
    return services.parcel_announce(
        partner=partner, tracking_number=f"NSP-DEMO-{number:04d}", site=site,
        recipient=RECIPIENTS[number % len(RECIPIENTS)], spec=ParcelSpec(size_class=SizeClass.objects.first()),
        external_reference=f"order-{1000 + number}", reserve=reserve, who=DEMO,
    )


def _ready(partner: Partner, number: int, site: Site) -> Parcel:
    parcel = _announce(partner, number, site, reserve=True)
    return services.parcel_deposit(parcel_id=parcel.pk, who=COURIER)


def _picked_up(partner: Partner, number: int, site: Site) -> Parcel:
    parcel = _ready(partner, number, site)
    pin, _ = services.code_secrets(parcel.pickup_code)
    locker = Locker.objects.get(pk=parcel.compartment.locker_id)
    services.pickup_code_verify(locker=locker, pin=pin)
    return services.parcel_pick_up(parcel_id=parcel.pk, who=Who(Actor.DEVICE, locker.serial_number))


def _expired(partner: Partner, number: int, site: Site) -> Parcel:
    parcel = _ready(partner, number, site)
    # Deposited a pickup window ago, in effect: expire it as the schedule would.
    services.parcels_expire_due(now=parcel.pickup_deadline + timedelta(seconds=1))
    return Parcel.objects.get(pk=parcel.pk)


def _returned(partner: Partner, number: int, site: Site) -> Parcel:
    return services.parcel_collect(parcel_id=_expired(partner, number, site).pk, who=COURIER)


def _cancelled(partner: Partner, number: int, site: Site) -> Parcel:
    return services.parcel_cancel(parcel_id=_announce(partner, number, site, reserve=True).pk, who=DEMO)


def _return(partner: Partner, number: int, site: Site, *, drop: bool) -> Parcel:
    parcel, issued = services.return_announce(
        partner=partner, tracking_number=f"NSP-DEMO-{number:04d}", site=site,
        recipient=RECIPIENTS[number % len(RECIPIENTS)], spec=ParcelSpec(size_class=SizeClass.objects.first()),
        who=DEMO,
    )
    if drop:
        locker = site.lockers.filter(status=Locker.Status.ACTIVE).first()
        services.dropoff_code_verify(locker=locker, pin=issued.pin)
        parcel = services.parcel_drop_off(parcel_id=parcel.pk, who=Who(Actor.DEVICE, locker.serial_number))
    return parcel


# Order matters: expiring parcels go first, so expiring them touches no other parcel.
PLAN = [
    (1, ParcelStatus.EXPIRED, _expired),
    (2, ParcelStatus.RETURNED_TO_SENDER, _returned),
    (3, ParcelStatus.ANNOUNCED, lambda p, n, s: _announce(p, n, s, reserve=False)),
    (4, ParcelStatus.RESERVED, lambda p, n, s: _announce(p, n, s, reserve=True)),
    (5, ParcelStatus.READY_FOR_PICKUP, _ready),
    (6, ParcelStatus.READY_FOR_PICKUP, _ready),
    (7, ParcelStatus.PICKED_UP, _picked_up),
    (8, ParcelStatus.CANCELLED, _cancelled),
    (9, ParcelStatus.RETURN_ANNOUNCED, lambda p, n, s: _return(p, n, s, drop=False)),
    (10, ParcelStatus.DROPPED_OFF, lambda p, n, s: _return(p, n, s, drop=True)),
]


def demo_parcels_ensure(stdout: TextIO) -> int:
    """Create the demo parcels that are missing; print how to try one. Returns how many were made."""
    partner = Partner.objects.get(slug="northstar-parcel")
    site = Site.objects.get(code=SITE_CODE)
    existing = set(Parcel.objects.filter(partner=partner).values_list("tracking_number", flat=True))
    made = 0
    for number, _status, make in PLAN:
        if f"NSP-DEMO-{number:04d}" not in existing:
            make(partner, number, site)
            made += 1
    _print_try_it(stdout, partner)
    return made


def _print_try_it(stdout: TextIO, partner: Partner) -> None:
    waiting = Parcel.objects.filter(partner=partner, status=ParcelStatus.READY_FOR_PICKUP).select_related(
        "pickup_code", "site", "compartment"
    )
    base = settings.SITE_URL.rstrip("/")
    stdout.write("\nDemo parcels waiting for pickup (code to type at the locker, recipient page):\n")
    for parcel in waiting:
        pin, _ = services.code_secrets(parcel.pickup_code)
        stdout.write(
            f"  {parcel.tracking_number} at {parcel.site.name}, door {parcel.compartment.label}: code {pin}, "
            f"{base}/p/{services.page_token(parcel)}/\n"
        )
