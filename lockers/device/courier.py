"""A courier at the locker: sign-in with badge and PIN, the day's lists, deposit, door problems, collection.

The sign-in gives a short-lived session token bound to the courier credential and to
this locker (a Django signed value: nothing to store, expiry built in). Every later
courier request carries it inside the signed part of the request (query or body),
and it is checked again against the credential, so a deactivated courier stops at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from carriers.models import CourierCredential
from carriers.services import courier_pin_matches
from lockers.models import Compartment, Locker
from parcels import services as parcel_services
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, ParcelStatus

from .errors import CourierLocked, CourierRefused, CourierSessionInvalid, ParcelNotFound

COURIER_SESSION_TTL = timedelta(minutes=15)
SESSION_SALT = "lockers.device.courier-session"
# Consecutive wrong PINs before a badge is locked, and for how long.
COURIER_FREE_TRIES = 5
COURIER_LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class CourierSession:
    token: str
    credential: CourierCredential
    expires_at: datetime


def _wrong_pin(credential_id: int, now: datetime) -> datetime | None:
    """Count a wrong PIN atomically; lock the badge after a streak. Returns the lock's end, if any."""
    with transaction.atomic():
        CourierCredential.objects.filter(pk=credential_id).update(failed_attempts=F("failed_attempts") + 1)
        credential = CourierCredential.objects.select_for_update().get(pk=credential_id)
        if credential.failed_attempts < COURIER_FREE_TRIES:
            return None
        until = now + COURIER_LOCKOUT
        CourierCredential.objects.filter(pk=credential_id).update(failed_attempts=0, locked_until=until)
        return until


def courier_credential_verify(*, badge_number: str, pin: str) -> CourierCredential:
    """Check a courier's badge and PIN, with attempt limits counted in the database.

    A wrong PIN counts against the badge; COURIER_FREE_TRIES in a row lock it for
    COURIER_LOCKOUT. Raises `CourierRefused` (unknown badge, inactive courier or
    partner, wrong PIN) or `CourierLocked`; a right PIN clears the streak.
    """
    now = timezone.now()
    credential = CourierCredential.objects.select_related("partner").filter(badge_number=badge_number.strip()).first()
    if credential is None or not credential.is_active or not credential.partner.is_active:
        raise CourierRefused("This badge is not accepted.")
    if credential.locked_until and credential.locked_until > now:
        raise CourierLocked("Too many wrong PINs for this badge.", until=credential.locked_until)
    if not courier_pin_matches(credential=credential, pin=pin):
        until = _wrong_pin(credential.pk, now)
        if until:
            raise CourierLocked("Too many wrong PINs for this badge.", until=until)
        raise CourierRefused("Wrong PIN.")
    CourierCredential.objects.filter(pk=credential.pk).update(failed_attempts=0, locked_until=None, last_used_at=now)
    return credential


def courier_session_open(*, locker: Locker, badge_number: str, pin: str) -> CourierSession:
    """Sign a courier in at `locker`. Raises `CourierRefused` or `CourierLocked`."""
    credential = courier_credential_verify(badge_number=badge_number, pin=pin)
    token = signing.dumps({"c": credential.pk, "l": locker.pk}, salt=SESSION_SALT, compress=True)
    return CourierSession(token=token, credential=credential, expires_at=timezone.now() + COURIER_SESSION_TTL)


def courier_session_check(*, locker: Locker, token: str) -> CourierCredential:
    """The courier a session token names, if it is fresh, for this locker, and still active."""
    try:
        claims = signing.loads(token or "", salt=SESSION_SALT, max_age=COURIER_SESSION_TTL)
    except signing.BadSignature as error:
        raise CourierSessionInvalid("Sign in again with badge and PIN.") from error
    credential = CourierCredential.objects.select_related("partner").filter(pk=claims.get("c")).first()
    usable = credential is not None and credential.is_active and credential.partner.is_active
    if claims.get("l") != locker.pk or not usable:
        raise CourierSessionInvalid("Sign in again with badge and PIN.")
    return credential


def courier_expected_parcels(*, locker: Locker, credential: CourierCredential) -> QuerySet[Parcel]:
    """The partner's parcels coming to this locker's site, not yet deposited."""
    return (
        Parcel.objects.filter(
            partner_id=credential.partner_id, site_id=locker.site_id,
            status__in=[ParcelStatus.ANNOUNCED, ParcelStatus.RESERVED],
        )
        .select_related("compartment", "size_class")
        .order_by("tracking_number")
    )


def courier_parcels_to_collect(*, locker: Locker, credential: CourierCredential) -> QuerySet[Parcel]:
    """The partner's expired parcels and dropped-off returns waiting in this locker."""
    return (
        Parcel.objects.filter(
            partner_id=credential.partner_id, compartment__locker=locker,
            status__in=[ParcelStatus.EXPIRED, ParcelStatus.DROPPED_OFF],
        )
        .select_related("compartment")
        .order_by("compartment__column", "compartment__row")
    )


def _courier_who(credential: CourierCredential) -> Who:
    return Who(Actor.COURIER, f"courier {credential.badge_number}", credential.user_id)


def courier_deposit_door(
    *, locker: Locker, credential: CourierCredential, tracking_number: str
) -> tuple[Parcel, Compartment]:
    """The door for a scanned parcel of the courier's partner: its held door or a fitting one.

    Raises `ParcelNotFound`, and the parcel errors of `deposit_door_for`.
    """
    parcel = parcel_services.parcels_for_allocation().filter(
        partner_id=credential.partner_id, tracking_number=tracking_number.strip()
    ).first()
    if parcel is None:
        raise ParcelNotFound(f"No parcel {tracking_number} of {credential.partner.name}.")
    door = parcel_services.deposit_door_for(parcel=parcel, locker=locker, who=_courier_who(credential))
    return parcel, door


def courier_door_problem(*, locker: Locker, credential: CourierCredential, parcel_id: int, problem: str) -> Compartment:
    """The assigned door cannot be used: mark it and get another. Raises `ParcelNotFound` and parcel errors."""
    if not Parcel.objects.filter(pk=parcel_id, partner_id=credential.partner_id, compartment__locker=locker).exists():
        raise ParcelNotFound(f"Parcel {parcel_id} holds no door in this locker.")
    return parcel_services.deposit_door_problem(parcel_id=parcel_id, problem=problem, who=_courier_who(credential))


def courier_collect_door(*, locker: Locker, credential: CourierCredential, parcel_id: int) -> Parcel:
    """The parcel to take away and its door; the door closing afterwards records the collection."""
    parcel = courier_parcels_to_collect(locker=locker, credential=credential).filter(pk=parcel_id).first()
    if parcel is None:
        raise ParcelNotFound(f"Parcel {parcel_id} is not waiting for collection in this locker.")
    return parcel
