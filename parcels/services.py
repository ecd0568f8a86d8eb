"""Every change to a parcel. Each service is one transaction (durable at the entry
point) and goes through `lifecycle.apply_transition` for any change of status.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from carriers.models import Partner
from lockers.models import Compartment, Locker, Site, SizeClass
from lockers.services import compartments_set_condition
from lockers_site import rows
from notifications.models import Notification
from notifications.services import notifications_enqueue

from . import codes
from .allocation import DoorScope, compartment_take, fitting_size_classes
from .errors import (
    CodeRefused,
    DuplicateTrackingNumber,
    ExtensionNotAllowed,
    KeypadLocked,
    NoFittingCompartment,
    ParcelTooBig,
    SiteUnavailable,
    TransitionNotAllowed,
)
from .keypad import keypad_day, keypad_left_unchanged, keypad_turn_settle, keypad_turn_take
from .lifecycle import BIRTH_EVENTS, Change, Where, Who, apply_transition, event_values, record_event
from .models import Actor, ExceptionReason, Parcel, ParcelEvent, ParcelStatus, PickupCode

RECIPIENT_EXTENSIONS_ALLOWED = 1
# How often to redraw a code whose PIN collides with a live one at the same site.
CODE_DRAWS = 8


@dataclass(frozen=True)
class Recipient:
    name: str
    phone: str = ""
    email: str = ""
    language: str = "en"


@dataclass(frozen=True)
class ParcelSpec:
    """What the partner says about the item: a size class or dimensions, weight, needs."""

    size_class: SizeClass | None = None
    promised_at: datetime | None = None
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    weight_g: int | None = None
    needs_accessible: bool = False
    temperature_need: str = Parcel.TemperatureNeed.AMBIENT


@dataclass(frozen=True)
class IssuedCode:
    code: PickupCode
    pin: str
    qr_token: str


# --- codes ---------------------------------------------------------------------------


def code_secrets(code: PickupCode) -> tuple[str, str]:
    """The PIN and QR token of a code, recomputed from its seed (never stored)."""
    return codes.pin_from_seed(code.seed), codes.qr_token_from_seed(code.seed)


def page_token(parcel: Parcel) -> str:
    return codes.page_token_from_seed(parcel.page_seed)


def _code_issue(*, site: Site, purpose: str) -> IssuedCode:
    """Create a live code whose PIN is unique among live codes at `site`."""
    for _ in range(CODE_DRAWS):
        seed = codes.new_seed()
        pin, qr = codes.pin_from_seed(seed), codes.qr_token_from_seed(seed)
        try:
            with transaction.atomic():
                code = PickupCode.objects.create(
                    site=site, purpose=purpose, seed=seed,
                    pin_hash=codes.pin_hash(site.pk, pin), qr_hash=codes.qr_hash(qr),
                )
        except IntegrityError:
            continue  # the PIN is live at this site already: draw again
        return IssuedCode(code=code, pin=pin, qr_token=qr)
    raise RuntimeError(f"Could not draw a free code at site {site.pk} in {CODE_DRAWS} tries.")


def _code_end(code_id: int | None, state: str) -> None:
    """End a code once no parcel it opens is still waiting behind it."""
    if code_id is None:
        return
    waiting = Parcel.objects.filter(
        pickup_code_id=code_id, status__in=[ParcelStatus.READY_FOR_PICKUP, ParcelStatus.RETURN_ANNOUNCED]
    )
    if not waiting.exists():
        PickupCode.objects.filter(pk=code_id, state=PickupCode.State.LIVE).update(state=state, ended_at=timezone.now())


# --- announce, reserve, redirect, cancel --------------------------------------------


def _check_site_accepts(site: Site, partner: Partner, kind: str) -> None:
    if site.status != Site.Status.ACTIVE:
        raise SiteUnavailable(f"{site.name} is {site.get_status_display().lower()} and takes no parcels.")
    if kind == Parcel.Kind.CLICK_AND_COLLECT and not partner.stores.filter(pk=site.pk).exists():
        raise SiteUnavailable(f"{site.name} is not one of {partner.name}'s stores.")


def _new_parcel(
    *, partner: Partner, kind: str, status: str, tracking_number: str, external_reference: str,
    site: Site, recipient: Recipient, spec: ParcelSpec,
) -> tuple[Parcel, list[SizeClass]]:
    """The parcel, saved, and the size classes it fits, smallest first.

    A tracking number the partner already uses is refused by the insert's unique
    constraint, not asked about before it: the question cost every announcement a
    statement, and only a refused one asks it now.
    """
    seed = codes.new_seed()
    parcel = Parcel(
        partner=partner, kind=kind, status=status, tracking_number=tracking_number,
        external_reference=external_reference, site=site, recipient_name=recipient.name,
        recipient_phone=recipient.phone, recipient_email=recipient.email, recipient_language=recipient.language,
        size_class=spec.size_class, length_mm=spec.length_mm, width_mm=spec.width_mm, height_mm=spec.height_mm,
        weight_g=spec.weight_g, needs_accessible=spec.needs_accessible, temperature_need=spec.temperature_need,
        promised_at=spec.promised_at,
        page_seed=seed, page_token_hash=codes.page_token_hash(codes.page_token_from_seed(seed)),
    )
    sizes = fitting_size_classes(parcel)  # refuse a parcel no door of the network can take
    try:
        with transaction.atomic():
            parcel.save()
    except IntegrityError as error:
        if Parcel.objects.filter(partner=partner, tracking_number=tracking_number).exists():
            raise DuplicateTrackingNumber(f"Tracking number {tracking_number} is already in use.") from error
        raise
    return parcel, sizes


def parcel_announce(
    *, partner: Partner, tracking_number: str, site: Site, recipient: Recipient, spec: ParcelSpec,
    kind: str = Parcel.Kind.DELIVERY, external_reference: str = "", reserve: bool = False, who: Who,
) -> Parcel:
    """Announce a delivery or click-and-collect parcel, optionally reserving a door now.

    All or nothing: if the reservation is asked for and no door fits, no parcel is
    created and `NoFittingCompartment` names nearby sites with room. Raises
    `SiteUnavailable`, `ParcelTooBig`, `DuplicateTrackingNumber`.
    """
    if kind == Parcel.Kind.RETURN:
        raise ValueError("Use return_announce for returns.")
    _check_site_accepts(site, partner, kind)
    with transaction.atomic():
        parcel, sizes = _new_parcel(
            partner=partner, kind=kind, status=ParcelStatus.ANNOUNCED, tracking_number=tracking_number,
            external_reference=external_reference, site=site, recipient=recipient, spec=spec,
        )
        _record_birth(parcel, who)
        if reserve:
            # What `parcel_reserve` reads and checks again is in hand: the parcel was just
            # announced at a site that takes it, and the sizes it fits were just read.
            parcel = _reserve_in(parcel, DoorScope(site_id=site.pk), who, sizes=sizes)
    return parcel


def _record_birth(parcel: Parcel, who: Who) -> None:
    record_event(
        parcel, event_type=parcel.status, from_status="", where=Where(), who=who,
        occurred_at=timezone.now(), webhook_type=BIRTH_EVENTS[parcel.status],
    )


def _reserve_in(parcel: Parcel, scope: DoorScope, who: Who, action: str = "reserve",
                sizes: list[SizeClass] | None = None) -> Parcel:
    """Hold a door in `scope` for `parcel`, of the `sizes` it fits if the caller has them."""
    sizes = fitting_size_classes(parcel) if sizes is None else sizes
    hold_until = timezone.now() + settings.RESERVATION_HOLD

    def assign(door: Compartment) -> Parcel:
        change = Change(fields={"compartment": door, "hold_expires_at": hold_until})
        return apply_transition(parcel.pk, action, who=who, where=Where(compartment=door), change=change)

    return compartment_take(parcel, sizes, scope, assign)


def parcels_for_allocation() -> QuerySet[Parcel]:
    """Parcels with what giving one a door reads: its site and partner (whether the site takes
    it), its size class (the sizes it fits), and the door it holds with that door's size."""
    return Parcel.objects.select_related("site", "partner", "size_class", "compartment__size_class")


def parcel_reserve(*, parcel_id: int, who: Who) -> Parcel:
    """Hold the smallest fitting free door at the parcel's site for the hold window.

    Raises `TransitionNotAllowed` unless announced, `SiteUnavailable`, or
    `NoFittingCompartment` (with nearby sites that have room). Changes nothing on error.
    """
    with transaction.atomic():
        parcel = parcels_for_allocation().get(pk=parcel_id)
        if parcel.status != ParcelStatus.ANNOUNCED:
            raise TransitionNotAllowed(f"Only an announced parcel can be reserved; this one is {parcel.status}.")
        _check_site_accepts(parcel.site, parcel.partner, parcel.kind)
        return _reserve_in(parcel, DoorScope(site_id=parcel.site_id), who)


def holds_release_expired(*, now: datetime | None = None) -> int:
    """Release every reservation whose hold has run out. Safe to run twice at once."""
    now = now or timezone.now()
    released = 0
    due = Parcel.objects.filter(status=ParcelStatus.RESERVED, hold_expires_at__lte=now).values_list("pk", flat=True)
    for parcel_id in list(due):
        change = Change(fields={"compartment": None, "hold_expires_at": None}, reason=ExceptionReason.HOLD_EXPIRED)
        try:
            with transaction.atomic():
                parcel = Parcel.objects.select_for_update().get(pk=parcel_id)
                if parcel.hold_expires_at is None or parcel.hold_expires_at > now:
                    continue  # re-held since we listed it
                apply_transition(parcel_id, "release_hold", who=Who(Actor.SYSTEM), change=change)
        except TransitionNotAllowed:
            continue  # deposited or cancelled meanwhile
        released += 1
    return released


def parcel_cancel(*, parcel_id: int, who: Who) -> Parcel:
    """Cancel a parcel not yet in a door (or a return not yet dropped off); frees its hold."""
    with transaction.atomic():
        code_id = Parcel.objects.values_list("pickup_code_id", flat=True).get(pk=parcel_id)
        change = Change(fields={"compartment": None, "hold_expires_at": None},
                        reason=ExceptionReason.CANCELLED_BY_PARTNER)
        parcel = apply_transition(parcel_id, "cancel", who=who, change=change)
        _code_end(code_id, PickupCode.State.REVOKED)
    return parcel


def parcel_redirect(*, parcel_id: int, site: Site, who: Who) -> Parcel:
    """Send a parcel not yet deposited to another site; a held door moves with it.

    If the parcel held a door, a door is held at the new site in the same transaction;
    if none fits there, nothing changes and `NoFittingCompartment` names sites with room.
    """
    with transaction.atomic():
        parcel = Parcel.objects.select_related("partner").get(pk=parcel_id)
        if parcel.site_id == site.pk:
            raise TransitionNotAllowed(f"The parcel is already going to {site.name}.")
        _check_site_accepts(site, parcel.partner, parcel.kind)
        was_reserved = parcel.status == ParcelStatus.RESERVED
        change = Change(
            fields={"site": site, "compartment": None, "hold_expires_at": None},
            reason=ExceptionReason.REDIRECTED,
            details={"from_site_id": parcel.site_id, "to_site_id": site.pk},
            notification_key=f"site-{site.pk}",
        )
        parcel = apply_transition(parcel_id, "redirect", who=who, change=change)
        if was_reserved:
            parcel = parcel_reserve(parcel_id=parcel_id, who=who)
    return parcel


# --- deposit by a courier or store staff ------------------------------------------------


def _site_check_for_locker(parcel: Parcel, locker: Locker) -> None:
    if parcel.site_id != locker.site_id:
        raise SiteUnavailable(f"Parcel {parcel.tracking_number} is addressed to another site.")


def deposit_door_assign(*, parcel_id: int, locker: Locker, who: Who) -> Compartment:
    """`deposit_door_for` the parcel `parcel_id`."""
    return deposit_door_for(parcel=parcels_for_allocation().get(pk=parcel_id), locker=locker, who=who)


def deposit_door_for(*, parcel: Parcel, locker: Locker, who: Who) -> Compartment:
    """The door a courier should put `parcel` (read from `parcels_for_allocation`) in at `locker`:
    its held door, or a new one.

    An announced parcel gets a door here now; a parcel held in another locker of the
    same site moves to a fitting door of this one. If no door fits, the courier keeps
    the parcel: the refusal is recorded with its reason and `NoFittingCompartment` raised.
    The parcel need not be read under a lock: the transition that gives it a door reads
    it again under one and refuses a status that changed meanwhile.
    """
    try:
        with transaction.atomic():
            _site_check_for_locker(parcel, locker)
            if parcel.status == ParcelStatus.ANNOUNCED:
                _check_site_accepts(parcel.site, parcel.partner, parcel.kind)
                return _reserve_in(parcel, DoorScope(locker_id=locker.pk), who).compartment
            if parcel.status != ParcelStatus.RESERVED:
                raise TransitionNotAllowed(
                    f"Parcel {parcel.tracking_number} is {parcel.status}, not awaiting deposit."
                )
            held = parcel.compartment
            if held.locker_id == locker.pk and held.condition == Compartment.Condition.OK:
                return held
            return _move_to_other_door(parcel, DoorScope(locker_id=locker.pk), who, reason="", larger_than=None)
    except NoFittingCompartment:
        _deposit_refuse(parcel.pk, who, ExceptionReason.NO_FITTING_COMPARTMENT, Where(locker_id=locker.pk))
        raise


def _deposit_refuse(parcel_id: int, who: Who, reason: str, where: Where) -> None:
    """Record that the courier keeps the parcel (no usable door), freeing any held door."""
    change = Change(fields={"compartment": None, "hold_expires_at": None}, reason=reason)
    apply_transition(parcel_id, "refuse_deposit", who=who, where=where, change=change)


def _move_to_other_door(
    parcel: Parcel, scope: DoorScope, who: Who, *, reason: str, larger_than: SizeClass | None
) -> Compartment:
    sizes = fitting_size_classes(parcel, larger_than=larger_than)
    old = parcel.compartment

    def assign(door: Compartment) -> Parcel:
        change = Change(
            fields={"compartment": door}, reason=reason,
            details={"from_compartment_id": old.pk if old else None, "to_compartment_id": door.pk},
        )
        return apply_transition(parcel.pk, "change_door", who=who, where=Where(compartment=door), change=change)

    return compartment_take(parcel, sizes, scope, assign).compartment


DOOR_PROBLEMS = {
    "broken": (Compartment.Condition.BROKEN, ExceptionReason.COMPARTMENT_BROKEN),
    "dirty": (Compartment.Condition.DIRTY, ExceptionReason.COMPARTMENT_BROKEN),
    "occupied": (Compartment.Condition.OUT_OF_SERVICE, ExceptionReason.COMPARTMENT_OCCUPIED),
    "too_small": (None, ExceptionReason.PARCEL_TOO_BIG),
}


def deposit_door_problem(*, parcel_id: int, problem: str, who: Who) -> Compartment:
    """The courier cannot use the assigned door: mark the door and offer another.

    `problem` is one of DOOR_PROBLEMS. A broken, dirty or occupied door leaves service;
    a door too small for the parcel stays in service and the parcel moves to a larger
    size. If no other door fits at this locker the parcel goes back to announced with
    the reason (the courier keeps it) and `NoFittingCompartment` (or `ParcelTooBig`,
    when no size of the network is larger) is raised.
    """
    condition, reason = DOOR_PROBLEMS[problem]
    try:
        with transaction.atomic():
            parcel = parcels_for_allocation().get(pk=parcel_id)
            if parcel.status != ParcelStatus.RESERVED:
                raise TransitionNotAllowed(f"Parcel {parcel.tracking_number} holds no door to report on.")
            door = parcel.compartment
            if condition:
                compartments_set_condition(compartment_ids=[door.pk], condition=condition)
            larger_than = door.size_class if problem == "too_small" else None
            return _move_to_other_door(parcel, DoorScope(locker_id=door.locker_id), who, reason=reason,
                                       larger_than=larger_than)
    except (NoFittingCompartment, ParcelTooBig):
        # ParcelTooBig: "too small" at the network's largest size; the courier keeps it.
        # The door's new condition stands (it was rolled back with the failed move, so set it again).
        if condition:
            compartments_set_condition(compartment_ids=[door.pk], condition=condition)
        _deposit_refuse(parcel_id, who, reason, Where(compartment=door))
        raise


def _pickup_window(parcel: Parcel) -> timedelta:
    hours = parcel.site.pickup_window_hours or parcel.partner.pickup_window_hours
    return timedelta(hours=hours) if hours else settings.PICKUP_WINDOW


def _same_recipient(parcel: Parcel) -> Q:
    same = Q(pk__in=[])
    if parcel.recipient_phone:
        same |= Q(recipient_phone=parcel.recipient_phone)
    if parcel.recipient_email:
        same |= Q(recipient_email__iexact=parcel.recipient_email)
    return same


def parcel_deposit(*, parcel_id: int, who: Who, occurred_at: datetime | None = None) -> Parcel:
    """The door closed with the parcel inside: ready for pickup, deadline set, code issued.

    If the same recipient already has parcels waiting in this locker, one new code
    opens them all and the old code dies (it is reissued), so one message and one
    code serve the whole pickup.
    """
    with transaction.atomic():
        parcel = Parcel.objects.select_related("site", "partner", "compartment").get(pk=parcel_id)
        if parcel.status != ParcelStatus.RESERVED:
            raise TransitionNotAllowed(f"Parcel {parcel.tracking_number} is {parcel.status}, not awaiting deposit.")
        when = occurred_at or timezone.now()
        siblings = Parcel.objects.filter(
            _same_recipient(parcel), status=ParcelStatus.READY_FOR_PICKUP,
            compartment__locker_id=parcel.compartment.locker_id,
        ).exclude(pk=parcel.pk)
        old_code_ids = set(siblings.values_list("pickup_code_id", flat=True))
        issued = _code_issue(site=parcel.site, purpose=PickupCode.Purpose.PICKUP)
        for sibling_id in siblings.values_list("pk", flat=True):
            apply_transition(sibling_id, "reissue_code", who=who, change=Change(
                fields={"pickup_code": issued.code}, notification_key=f"code-{issued.code.pk}"))
        PickupCode.objects.filter(pk__in=old_code_ids - {None}).update(
            state=PickupCode.State.REVOKED, ended_at=timezone.now())
        change = Change(
            fields={"deposited_at": when, "pickup_deadline": when + _pickup_window(parcel), "hold_expires_at": None,
                    "pickup_code": issued.code},
            notification_key=f"code-{issued.code.pk}",
        )
        return apply_transition(parcel_id, "deposit", who=who, change=change, occurred_at=occurred_at)


# --- recipient at the locker ----------------------------------------------------------


# A code's parcels with the code, the door and the door's locker (what the custody event
# names). A drop-off loads every field, as it may allocate a door from the same rows; a
# pickup only what opening the doors reads (and the door's place, their order): every
# typed or scanned code loads these, and converting a parcel's every field cost more
# than its look-up.
_CODE_ROWS = {
    PickupCode.Purpose.DROP_OFF: (
        rows.Part(Parcel, "p"),
        rows.Part(PickupCode, "k"),
        rows.Part(Compartment, "d"),
        rows.Part(Locker, "l", ("id", "site_id", "serial_number", "status")),
    ),
    PickupCode.Purpose.PICKUP: (
        rows.Part(Parcel, "p", ("id", "status", "site_id", "partner_id", "pickup_code_id", "compartment_id")),
        rows.Part(PickupCode, "k", ("id", "site_id", "purpose", "state")),
        rows.Part(Compartment, "d", ("id", "locker_id", "label", "column", "row")),
        rows.Part(Locker, "l", ("id", "site_id", "serial_number", "status")),
    ),
}
CODE_USED = "This code has already been used."


@functools.cache
def _code_parcels_sql(*, by_qr: bool, purpose: str) -> str:
    parcel, code, door, locker = parts = _CODE_ROWS[purpose]
    pickup = purpose == PickupCode.Purpose.PICKUP
    waiting = ParcelStatus.READY_FOR_PICKUP if pickup else ParcelStatus.RETURN_ANNOUNCED
    where = [f"{code.col('site')} = %s", f"{code.col('qr_hash' if by_qr else 'pin_hash')} = %s",
             f"{code.col('state')} = {rows.literal(PickupCode.State.LIVE)}",
             f"{code.col('purpose')} = {rows.literal(purpose)}", f"{parcel.col('status')} = {rows.literal(waiting)}"]
    if pickup:  # a return's door is found when the code is typed; a pickup's is in this locker
        where.append(f"{door.col('locker')} = %s")
    # No ORDER BY: the keypad joins this look-up to its guard row, and SQL keeps no order
    # through a join; `_code_parcels_loaded` orders the parcels.
    return (f"SELECT {rows.select_list(parts)} FROM {parcel.table} "
            f"JOIN {code.table} ON {code.col('id')} = {parcel.col('pickup_code')} "
            f"LEFT JOIN {door.table} ON {door.col('id')} = {parcel.col('compartment')} "
            f"LEFT JOIN {locker.table} ON {locker.col('id')} = {door.col('locker')} "
            f"WHERE {' AND '.join(where)}")


def _code_key(*, locker: Locker, pin: str | None, qr_token: str | None) -> str:
    """What a code is looked up by: the keyed hash of its QR token, or of its PIN at the locker's site."""
    return codes.qr_hash(qr_token) if qr_token else codes.pin_hash(locker.site_id, pin or "")


def _code_parcels_select(*, site_id: int | rows.Slot, key: str | rows.Slot, locker_id: int | rows.Slot,
                         by_qr: bool, purpose: str) -> rows.Sql:
    """What a live code opens at this locker, in one query: waiting parcels here, or the return to drop off.

    Written out (`lockers_site.rows`): it runs for every typed or scanned code, and the
    ORM's compilation of this four-table join cost more CPU than the whole query. Its
    first column is the parcel's id, never NULL (as `keypad_turn_take` needs).
    """
    params = (site_id, key, locker_id) if purpose == PickupCode.Purpose.PICKUP else (site_id, key)
    return rows.Sql(_code_parcels_sql(by_qr=by_qr, purpose=purpose), params)


def _code_parcels_lookup(*, locker: Locker, pin: str | None, qr_token: str | None, purpose: str) -> rows.Sql:
    """`_code_parcels_select` of a typed PIN or a scanned QR token at this locker."""
    return _code_parcels_select(site_id=locker.site_id, key=_code_key(locker=locker, pin=pin, qr_token=qr_token),
                                locker_id=locker.pk, by_qr=bool(qr_token), purpose=purpose)


def _door_order(parcel: Parcel) -> tuple[int, int, int, int]:
    door = parcel.compartment
    return (0, door.column, door.row, parcel.pk) if door is not None else (1, 0, 0, parcel.pk)


def _code_parcels_loaded(found: list[tuple[object, ...]], purpose: str) -> list[Parcel]:
    """The look-up's rows as parcels with their code and door, ordered by door (column, row)."""
    parcels = []
    for parcel, code, door, door_locker in (rows.load_row(_CODE_ROWS[purpose], row) for row in found):
        parcel.pickup_code = code
        if door is not None:
            door.locker = door_locker
        parcel.compartment = door
        parcels.append(parcel)
    return sorted(parcels, key=_door_order)


def _code_use_sql(*, where: dict[str, object], now: datetime | rows.Slot, returning: tuple[str, ...] = (),
                  also: tuple[str, ...] = ()) -> rows.Sql:
    # One conditional update: of many racing requests with the same code, one wins.
    return rows.update_sql(PickupCode, {"state": PickupCode.State.USED, "ended_at": now},
                           where={**where, "state": PickupCode.State.LIVE}, returning=returning, also=also)


def _code_use(code: PickupCode, now: datetime) -> None:
    statement = _code_use_sql(where={"id": code.pk}, now=now)
    if not rows.write(statement.text, statement.params):
        raise CodeRefused(CODE_USED)


def _scanned_code_parcels(*, locker: Locker, qr_token: str | None, purpose: str) -> list[Parcel]:
    """What a scanned code opens: no keypad turn, as a 160-bit token cannot be guessed."""
    lookup = _code_parcels_lookup(locker=locker, pin=None, qr_token=qr_token, purpose=purpose)
    return _code_parcels_loaded(rows.execute(lookup.text, lookup.params), purpose)


@dataclass(frozen=True)
class _CodeLookup:
    parcels: list[Parcel]
    refusal: KeypadLocked | None = None  # the keypad refused the turn: nothing was compared


def _guarded_lookup(*, locker: Locker, pin: str | None, qr_token: str | None, purpose: str,
                    optimistic: bool) -> _CodeLookup:
    """The parcels a typed or scanned code opens at this locker; a typed one takes a keypad turn.

    Call inside a transaction that commits even when nothing opens: a wrong PIN and a
    refused turn are counted in it, so this raises nothing and the callers raise after
    their block. A typed code's look-up runs with the keypad's lock: once it is held,
    or, `optimistic`, in the locking statement itself on PostgreSQL (`keypad_turn_take`),
    which may read the rows as they were before the lock wait.
    """
    if not pin:
        return _CodeLookup(_scanned_code_parcels(locker=locker, qr_token=qr_token, purpose=purpose))
    turn = keypad_turn_take(locker=locker, optimistic=optimistic,
                            lookup=_code_parcels_lookup(locker=locker, pin=pin, qr_token=None, purpose=purpose))
    if turn.refused:
        keypad_turn_settle(turn=turn, right=None)
        return _CodeLookup([], refusal=turn.refusal())
    parcels = _code_parcels_loaded(turn.looked_up, purpose)
    keypad_turn_settle(turn=turn, right=bool(parcels))
    return _CodeLookup(parcels)


class _LookupOutdated(Exception):
    """What a code opens changed after its look-up read it: the code's use wrote nothing."""


# Opens the doors of a right code's parcels, in the code's transaction.
OpenDoors = Callable[[list[Parcel]], None]


def _code_opening(*, locker: Locker, pin: str | None, qr_token: str | None, purpose: str,
                  open_doors: OpenDoors, optimistic: bool = False) -> list[Parcel]:
    """Check a code and, when it opens something, run `open_doors` in the same transaction.

    One transaction per typed or scanned code: the keypad turn, the look-up and what
    opening writes commit together, so a code costs one commit. A code that opens
    nothing still commits its keypad counters before the refusal is raised. If
    `open_doors` raises, everything rolls back, and no wrong-code count is lost:
    `open_doors` runs only for a right code. Call it outside any transaction, so its
    block commits before the refusal is raised. (On PostgreSQL a pickup code is first
    tried without a transaction, `_pickup_opened_alone`.)

    `optimistic`: the look-up may read the rows as they were before the keypad's lock
    wait (one round trip less), so `open_doors` must check in its write that what it
    opens is unchanged and raise `_LookupOutdated` if not, and be one statement on
    PostgreSQL. Everything then rolls back, and the code is checked again with its
    look-up under the lock, as without it (a request that waited behind the one using
    its code then finds it used and counts as a wrong code, as it always has).
    """
    if not pin and not qr_token:
        raise CodeRefused("Type a code or scan a QR code.")
    check = functools.partial(_code_checked, locker=locker, pin=pin, qr_token=qr_token, purpose=purpose,
                              open_doors=open_doors)
    try:
        found = check(optimistic=optimistic)
    except _LookupOutdated:
        try:
            found = check(optimistic=False)
        except _LookupOutdated:  # changed in the instant between a look-up under the lock and the use
            raise CodeRefused(CODE_USED) from None
    return _code_answer(found)


def _code_answer(found: _CodeLookup) -> list[Parcel]:
    if found.refusal is not None:
        raise found.refusal
    if not found.parcels:
        raise CodeRefused("This code does not open any door at this locker.")
    return found.parcels


def _code_checked(*, locker: Locker, pin: str | None, qr_token: str | None, purpose: str,
                  open_doors: OpenDoors, optimistic: bool) -> _CodeLookup:
    with transaction.atomic():
        found = _guarded_lookup(locker=locker, pin=pin, qr_token=qr_token, purpose=purpose, optimistic=optimistic)
        if found.parcels:
            open_doors(found.parcels)
    return found


# The (parcel, door, code) triples a code's use expects to find still waiting: the part
# `expected` of the statement that uses the code (`_pickup_use_parts`).
_EXPECTED_GIVEN = ("SELECT given.parcel, given.door, CAST(%s AS bigint) AS code "
                   "FROM unnest(CAST(%s AS bigint[]), CAST(%s AS bigint[])) AS given(parcel, door)")


@functools.cache
def _still_waiting_sql() -> str:
    """How many of the `expected` (parcel, door, code) triples still wait in their door behind
    their code, each parcel key-share locked.

    The lock conflicts with a transition's `SELECT ... FOR UPDATE` (the expiry job, a
    pickup reported, a code reissued): one in progress is waited for and its parcel read
    as it committed (a parcel expired meanwhile is not counted), and none starts before
    the code's use commits. Locked in id order, as a transition of several parcels takes
    them one by one.
    """
    parcel = rows.Part(Parcel, "p")
    return (f"SELECT count(*) AS n FROM (SELECT 1 FROM {parcel.table} JOIN expected "
            f"ON {parcel.col('id')} = expected.parcel AND {parcel.col('compartment')} = expected.door "
            f"WHERE {parcel.col('pickup_code')} = expected.code "
            f"AND {parcel.col('status')} = {rows.literal(ParcelStatus.READY_FOR_PICKUP)} "
            f"ORDER BY {parcel.col('id')} FOR KEY SHARE OF {parcel.alias}) AS waiting")


def _pickup_use_parts(before: dict[str, rows.Sql], *, now: datetime | rows.Slot,
                      keypad: rows.Sql | None = None) -> dict[str, rows.Sql]:
    """PostgreSQL: the parts of the one statement that uses a pickup code, up to `used`.

    `before` names the part `expected` (parcel, door, code: what the code was found to
    open, one code) and what it reads from. `used` (the code's id, or no row) uses the
    code only if every expected parcel still waits in its door (`_still_waiting_sql`,
    which waits for a transition of one in progress) and the `keypad` SELECT, if given,
    finds its row. The custody events are inserted for each row of `used`, so only if
    it did: the look-up may have read the rows before the keypad's lock wait, or
    without a transaction, and the expiry job, a move, a keypad turn or the request
    that used the code before may have changed them meanwhile.
    """
    parts = {**before, "still": rows.Sql(_still_waiting_sql())}
    conditions = ["(SELECT n FROM still) = (SELECT count(*) FROM expected)"]
    if keypad is not None:
        parts["keypad"] = keypad
        conditions.append("EXISTS (SELECT 1 FROM keypad)")
    code_id = rows.column(PickupCode, "id")
    parts["used"] = _code_use_sql(where={}, now=now, returning=("id",),
                                  also=(f"{code_id} = (SELECT min(code) FROM expected)", *conditions))
    return parts


def _pickup_opened_in_one_statement(parcels: list[Parcel], events: list[dict[str, object]],
                                    now: datetime) -> None:
    """PostgreSQL, in the code's transaction: the code used and the custody events written by
    one statement (`_pickup_use_parts`). Raises `_LookupOutdated` when nothing was written."""
    expected = rows.Sql(_EXPECTED_GIVEN, (parcels[0].pickup_code_id, [parcel.pk for parcel in parcels],
                                          [parcel.compartment_id for parcel in parcels]))
    parts = _pickup_use_parts({"expected": expected}, now=now)
    statement = rows.with_(parts, rows.insert_sql(ParcelEvent, events, for_each_row_of="used"))
    # Prepared when it opens one door, the common case: the text varies with the number of doors.
    if not rows.write(statement.text, statement.params, prepare=len(events) == 1):
        raise _LookupOutdated()


def _pickup_opened_in_steps(parcels: list[Parcel], events: list[dict[str, object]], now: datetime) -> None:
    """Elsewhere (SQLite, no data-modifying WITH, its look-up always under the lock): the code used,
    then each event inserted."""
    _code_use(parcels[0].pickup_code, now)
    for values in events:
        rows.insert(ParcelEvent, values)


def _pickup_events(parcels: list[Parcel], now: datetime | rows.Slot) -> list[dict[str, object]]:
    """The custody event of each parcel whose door a right code opens `now`."""
    return [event_values(parcel, event_type="door_opened_for_pickup", from_status=parcel.status,
                         where=Where(compartment=parcel.compartment), who=Who(Actor.RECIPIENT), occurred_at=now,
                         recorded_at=now)
            for parcel in parcels]


# A pickup code's look-up inside the statement that uses it without a transaction, and
# what that statement returns of it: the parcels and their doors, all the answer needs.
_FOUND = rows.Numbered("found", _CODE_ROWS[PickupCode.Purpose.PICKUP])
_OPENED = (_FOUND.parts[0], _FOUND.parts[2])


@functools.cache
def _opened_sql() -> str:
    columns = ", ".join(_FOUND.col(part.alias, field.attname) for part in _OPENED for field in part.fields)
    return f"SELECT (SELECT count(*) FROM used), {columns} FROM found"


def _opened_loaded(found: list[tuple[object, ...]]) -> list[Parcel]:
    """The parcels of `_opened_sql`'s rows with their doors, ordered by door (column, row)."""
    parcels = []
    for parcel, door in (rows.load_row(_OPENED, row[1:]) for row in found):
        parcel.compartment = door
        parcels.append(parcel)
    return sorted(parcels, key=_door_order)


@functools.cache
def _found_parcel() -> Parcel:
    """A found parcel, its door and the door's locker, their fields the columns of `found` that
    hold them (`rows.Sql`): what `_pickup_events` makes of it is each found parcel's event."""

    def ref(alias: str, attname: str) -> rows.Sql:
        return rows.Sql(_FOUND.col(alias, attname))

    locker = Locker(id=ref("l", "id"), site_id=ref("l", "site_id"))
    door = Compartment(id=ref("d", "id"), locker=locker)
    return Parcel(id=ref("p", "id"), status=ref("p", "status"), site_id=ref("p", "site_id"), compartment=door)


@functools.cache
def _expected_found() -> rows.Sql:
    return rows.Sql(f"SELECT {_FOUND.col('p', 'id')} AS parcel, {_FOUND.col('p', 'compartment_id')} AS door, "
                    f"{_FOUND.col('k', 'id')} AS code FROM found")


# What changes from one code used alone to the next: its statement's slots (`_opened_alone_sql`).
_SITE, _KEY, _LOCKER, _DAY, _NOW = (rows.Slot(name) for name in ("site", "key", "locker", "day", "now"))


@functools.cache
def _opened_alone_sql(*, typed: bool) -> rows.Sql:
    """The statement of `_pickup_opened_alone` for a typed or a scanned code, built once with slots
    for the code's key, its locker and site, the keypad's day and the time."""
    lookup = _code_parcels_select(site_id=_SITE, key=_KEY, locker_id=_LOCKER, by_qr=not typed,
                                  purpose=PickupCode.Purpose.PICKUP)
    parts = _pickup_use_parts({"found": _FOUND.of(lookup), "expected": _expected_found()}, now=_NOW,
                              keypad=keypad_left_unchanged(locker_id=_LOCKER, day=_DAY) if typed else None)
    (event,) = _pickup_events([_found_parcel()], now=_NOW)
    parts["opened"] = rows.insert_each_sql(ParcelEvent, event, for_each_row_of="found CROSS JOIN used")
    return rows.with_(parts, rows.Sql(_opened_sql()))


def _pickup_opened_alone(*, locker: Locker, pin: str | None, qr_token: str | None) -> _CodeLookup | None:
    """PostgreSQL: a pickup code looked up, used and its custody events written by one statement,
    its own transaction (no `BEGIN`, one commit).

    A typed code is used only at a keypad that it leaves unchanged and that no turn holds
    (`keypad_left_unchanged`), so its turn writes nothing; a scanned one takes no turn.
    None when the code must be checked in a transaction instead (`_code_opening`): a
    typed code that opens nothing (counted there), a keypad that refuses, would change
    or is taken by a turn, or parcels that changed after the look-up. A scanned code
    that opens nothing is answered here: it has no counters. Called outside a transaction,
    as `pickup_code_verify` must be, so the rows it locks are let go when it ends.
    """
    # A typed PIN is what is checked when one is given, as in the locked turn (`_guarded_lookup`).
    now = timezone.now()
    statement = _opened_alone_sql(typed=bool(pin)).bound({
        "site": locker.site_id, "locker": locker.pk, "now": now,
        "key": _code_key(locker=locker, pin=pin, qr_token=None if pin else qr_token),
        "day": keypad_day(locker, now) if pin else None,
    })
    found = rows.execute(statement.text, statement.params)
    if found and found[0][0]:
        return _CodeLookup(_opened_loaded(found))
    return None if pin or found else _CodeLookup([])


def pickup_code_verify(*, locker: Locker, pin: str | None = None, qr_token: str | None = None) -> list[Parcel]:
    """Check a recipient's typed PIN or scanned QR token at a locker.

    Returns the parcels (with their doors) to open; the code is used up at once, so
    it opens only once however many requests race. Raises `KeypadLocked` or
    `CodeRefused`; a refused code changes nothing except the wrong-code counters. Call it
    outside a transaction: a refusal's counters commit before it is raised. On
    PostgreSQL a right code at a keypad it leaves unchanged is one statement
    (`_pickup_opened_alone`); any other code is checked in a transaction, whose look-up
    may read the rows before the keypad's lock wait (`_code_opening`, optimistic): the
    use re-checks them and, if anything changed, the code is checked again under the
    lock, so a request that lost the race to use its code counts as a wrong code.
    """

    def open_doors(parcels: list[Parcel]) -> None:
        now = timezone.now()
        events = _pickup_events(parcels, now)
        if connection.vendor == "postgresql":
            _pickup_opened_in_one_statement(parcels, events, now)
        else:
            _pickup_opened_in_steps(parcels, events, now)

    if connection.vendor == "postgresql" and (pin or qr_token):
        opened = _pickup_opened_alone(locker=locker, pin=pin, qr_token=qr_token)
        if opened is not None:
            return _code_answer(opened)
    return _code_opening(locker=locker, pin=pin, qr_token=qr_token, purpose=PickupCode.Purpose.PICKUP,
                         open_doors=open_doors, optimistic=True)


def parcel_pick_up(*, parcel_id: int, who: Who, occurred_at: datetime | None = None) -> Parcel:
    """The recipient took the parcel (its door closed after opening): picked up, door free.

    An expired parcel is accepted only for a pickup that happened before its deadline:
    a locker that was offline reports it late, after the expiry job ran.
    """
    with transaction.atomic():
        parcel = Parcel.objects.select_for_update().get(pk=parcel_id)
        if parcel.status == ParcelStatus.EXPIRED and (occurred_at is None or occurred_at > parcel.pickup_deadline):
            raise TransitionNotAllowed("The parcel expired before this pickup; the courier collects it.")
        change = Change(fields={"compartment": None, "picked_up_at": occurred_at or timezone.now()})
        parcel = apply_transition(parcel_id, "pick_up", who=who, where=Where(compartment=parcel.compartment),
                                  change=change, occurred_at=occurred_at)
        _code_end(parcel.pickup_code_id, PickupCode.State.USED)
    return parcel


# --- time rules ---------------------------------------------------------------------------


def parcel_extend(*, parcel_id: int, who: Who, extension: timedelta | None = None) -> Parcel:
    """Push a waiting parcel's deadline back. A recipient may do this once."""
    extension = extension or settings.PICKUP_EXTENSION
    with transaction.atomic():
        parcel = Parcel.objects.select_for_update().get(pk=parcel_id)
        if parcel.status != ParcelStatus.READY_FOR_PICKUP:
            raise ExtensionNotAllowed("Only a parcel waiting for pickup can be extended.")
        if who.actor == Actor.RECIPIENT and parcel.extensions_used >= RECIPIENT_EXTENSIONS_ALLOWED:
            raise ExtensionNotAllowed("The pickup window has already been extended once.")
        deadline = parcel.pickup_deadline + extension
        change = Change(
            fields={"pickup_deadline": deadline, "extensions_used": parcel.extensions_used + 1},
            details={"new_deadline": deadline.isoformat()}, notification_key=f"deadline-{deadline.timestamp()}",
        )
        return apply_transition(parcel_id, "extend", who=who, change=change)


def parcels_expire_due(*, now: datetime | None = None) -> int:
    """Expire every parcel whose deadline has passed; their codes die. Safe to run twice at once."""
    now = now or timezone.now()
    expired = 0
    due = Parcel.objects.filter(status=ParcelStatus.READY_FOR_PICKUP, pickup_deadline__lte=now)
    for parcel_id in list(due.values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                parcel = Parcel.objects.select_for_update().get(pk=parcel_id)
                if parcel.pickup_deadline > now:
                    continue  # extended since we listed it
                apply_transition(parcel_id, "expire", who=Who(Actor.SYSTEM),
                                 change=Change(reason=ExceptionReason.PICKUP_DEADLINE_PASSED))
                _code_end(parcel.pickup_code_id, PickupCode.State.REVOKED)
        except TransitionNotAllowed:
            continue  # picked up meanwhile
        expired += 1
    return expired


def parcel_collect(*, parcel_id: int, who: Who, occurred_at: datetime | None = None) -> Parcel:
    """A courier took an expired parcel or a dropped-off return out of its door."""
    with transaction.atomic():
        parcel = Parcel.objects.get(pk=parcel_id)
        return apply_transition(parcel_id, "collect", who=who, where=Where(compartment=parcel.compartment),
                                change=Change(fields={"compartment": None}), occurred_at=occurred_at)


# --- returns --------------------------------------------------------------------------------


def return_announce(
    *, partner: Partner, tracking_number: str, site: Site, recipient: Recipient, spec: ParcelSpec,
    external_reference: str = "", who: Who,
) -> tuple[Parcel, IssuedCode]:
    """Announce a return the recipient will drop off at `site`; returns its drop-off code."""
    _check_site_accepts(site, partner, Parcel.Kind.RETURN)
    with transaction.atomic():
        parcel, _ = _new_parcel(
            partner=partner, kind=Parcel.Kind.RETURN, status=ParcelStatus.RETURN_ANNOUNCED,
            tracking_number=tracking_number, external_reference=external_reference, site=site,
            recipient=recipient, spec=spec,
        )
        issued = _code_issue(site=site, purpose=PickupCode.Purpose.DROP_OFF)
        Parcel.objects.filter(pk=parcel.pk).update(pickup_code=issued.code)
        parcel.pickup_code = issued.code
        _record_birth(parcel, who)
        notifications_enqueue(parcel=parcel, kind=Notification.Kind.RETURN_CODE, dedupe_key=f"code-{issued.code.pk}")
    return parcel, issued


def dropoff_code_verify(*, locker: Locker, pin: str | None = None, qr_token: str | None = None) -> Parcel:
    """A recipient typed a drop-off code: give the return a fitting free door here.

    The code is used up only once a door is found; `NoFittingCompartment` leaves it live.
    """

    def open_door(parcels: list[Parcel]) -> None:
        parcel = parcels[0]
        if parcel.compartment_id is None:
            _move_to_other_door(parcel, DoorScope(locker_id=locker.pk), Who(Actor.RECIPIENT), reason="",
                                larger_than=None)
        _code_use(parcel.pickup_code, timezone.now())

    parcel, *_ = _code_opening(locker=locker, pin=pin, qr_token=qr_token, purpose=PickupCode.Purpose.DROP_OFF,
                               open_doors=open_door)
    return Parcel.objects.select_related("compartment__size_class").get(pk=parcel.pk)


def parcel_drop_off(*, parcel_id: int, who: Who, occurred_at: datetime | None = None) -> Parcel:
    """The door closed with the return inside: dropped off, waiting for the courier."""
    with transaction.atomic():
        parcel = Parcel.objects.get(pk=parcel_id)
        if parcel.compartment_id is None:
            raise TransitionNotAllowed("The return has no door yet: enter the drop-off code first.")
        return apply_transition(parcel_id, "drop_off", who=who, where=Where(compartment=parcel.compartment),
                                occurred_at=occurred_at)
