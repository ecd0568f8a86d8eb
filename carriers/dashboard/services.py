"""Writes of the store dashboard: importing orders, giving an order its door, opening
it, resending the customer's message. Every parcel change goes through the parcel
services with the store-staff actor of the scope.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from carriers.models import PartnerMember
from lockers.device.commands import locker_command_queue
from lockers.models import Compartment, Locker, LockerCommand, Site
from notifications.models import Notification
from notifications.services import notification_resend
from parcels.allocation import fitting_free_compartments, fitting_size_classes
from parcels.errors import ParcelError, TransitionNotAllowed
from parcels.models import Parcel, ParcelStatus
from parcels.services import ParcelSpec, Recipient, deposit_door_assign, parcel_announce

from .csv_orders import csv_rows
from .forms import OrderForm
from .scope import StoreScope
from .selectors import order_numbers_taken


def store_order_announce(*, scope: StoreScope, order_number: str, recipient: Recipient, spec: ParcelSpec) -> Parcel:
    """Announce a click-and-collect order at the scope's store (no door is held until loading).

    Raises the parcel errors of `parcel_announce` (`DuplicateTrackingNumber`,
    `ParcelTooBig`, `SiteUnavailable`).
    """
    return parcel_announce(
        partner=scope.partner, tracking_number=order_number, site=scope.site, recipient=recipient, spec=spec,
        kind=Parcel.Kind.CLICK_AND_COLLECT, who=scope.who(),
    )


@dataclass
class RowError:
    line: int
    order_number: str
    reasons: list[str]


@dataclass
class ImportReport:
    created: list[Parcel] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _form_reasons(form: OrderForm) -> list[str]:
    reasons = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        reasons += [f"{label}: {error}" if label else str(error) for error in errors]
    return reasons


def store_orders_import(*, scope: StoreScope, upload: UploadedFile) -> ImportReport:
    """Announce every good row of an order spreadsheet; report every bad one with its line.

    Each good row is its own announcement (a bad row never undoes a good one). A row is
    bad if it fails `OrderForm`, repeats an order number of the file or of the
    retailer, or the parcel service refuses it. Raises `CsvRefused` (nothing is
    announced then) for a file that cannot be read as a whole.
    """
    rows = list(csv_rows(upload))
    in_file = Counter(row.data["order_number"] for row in rows)
    taken = order_numbers_taken(scope, list(in_file))
    report = ImportReport()
    with timezone.override(scope.site.tz):
        for row in rows:
            form = OrderForm(row.data)
            reasons = [] if form.is_valid() else _form_reasons(form)
            number = row.data["order_number"]
            if number in taken:
                reasons.append(f"Order number {number} is already in use.")
            elif in_file[number] > 1 and number:
                reasons.append(f"Order number {number} appears {in_file[number]} times in the file.")
            if not reasons:
                try:
                    report.created.append(store_order_announce(
                        scope=scope, order_number=form.cleaned_data["order_number"],
                        recipient=form.recipient(), spec=form.spec(),
                    ))
                    continue
                except ParcelError as error:
                    reasons.append(error.detail)
            report.errors.append(RowError(line=row.line, order_number=number, reasons=reasons))
    return report


def _locker_for(order: Parcel, scope: StoreScope) -> Locker:
    """The store's locker to load into: the order's held door's, else one with a fitting free door."""
    if order.compartment_id:
        return order.compartment.locker
    lockers = Locker.objects.filter(site=scope.site, status=Locker.Status.ACTIVE)
    door = fitting_free_compartments(order, fitting_size_classes(order)).filter(locker__in=lockers).first()
    locker = door.locker if door else lockers.order_by("name").first()
    if locker is None:
        raise TransitionNotAllowed(f"{scope.site.name} has no working locker.")
    return locker


def store_order_door(*, scope: StoreScope, order: Parcel) -> Compartment:
    """The door an associate should load `order` into now, held for them.

    Raises `NoFittingCompartment` (the refusal is recorded; keep the order aside),
    `TransitionNotAllowed` for an order not waiting to be loaded, or `ParcelTooBig`.
    """
    if order.status not in (ParcelStatus.ANNOUNCED, ParcelStatus.RESERVED):
        raise TransitionNotAllowed(f"Order {order.tracking_number} is {order.get_status_display().lower()}.")
    return deposit_door_assign(parcel_id=order.pk, locker=_locker_for(order, scope), who=scope.who())


def store_door_open(*, scope: StoreScope, order: Parcel) -> LockerCommand:
    """Ask the locker to open the order's held door (an audited, rate-limited remote command).

    Raises `TransitionNotAllowed` if the order holds no door, and the device errors
    `CommandRefused` / `CommandRateLimited` of `locker_command_queue`.
    """
    if order.status != ParcelStatus.RESERVED or order.compartment is None:
        raise TransitionNotAllowed(f"Order {order.tracking_number} holds no door to open.")
    door = order.compartment
    return locker_command_queue(
        locker=door.locker, kind=LockerCommand.Kind.OPEN_DOOR_FOR_LOADING, compartment=door,
        reason=f"Store loading: order {order.tracking_number} into door {door.label} ({scope.partner.name})",
        requested_by=scope.member.user,
    )


def store_order_notify_again(*, scope: StoreScope, order: Parcel) -> int:
    """Send the customer's latest 'ready for pickup' message again on every channel.

    Raises `TransitionNotAllowed` unless the order waits in its door. Returns how many
    messages were queued again (0 if none was ever queued, e.g. no contact).
    """
    if order.status != ParcelStatus.READY_FOR_PICKUP:
        raise TransitionNotAllowed(f"Order {order.tracking_number} is not waiting for its customer.")
    ready = Notification.objects.filter(parcel=order, kind=Notification.Kind.PARCEL_READY)
    latest = ready.order_by("-created_at", "-pk").values_list("dedupe_key", flat=True).first()
    ids = list(ready.filter(dedupe_key=latest).values_list("pk", flat=True)) if latest else []
    for notification_id in ids:
        notification_resend(notification_id=notification_id)
    return len(ids)


# --- staff (retail managers) ------------------------------------------------------------------


class StaffChangeRefused(Exception):
    """A manager's change to the retailer's staff that cannot be made; the message says why."""


def _own_stores(manager: PartnerMember, stores: list[Site]) -> list[Site]:
    own = set(manager.partner.stores.values_list("pk", flat=True))
    if any(store.pk not in own for store in stores):
        raise StaffChangeRefused("An associate can only work at the retailer's own stores.")
    return stores


def _associate(manager: PartnerMember, member_id: int) -> PartnerMember:
    member = PartnerMember.objects.filter(
        pk=member_id, partner_id=manager.partner_id, role=PartnerMember.Role.STORE_ASSOCIATE
    ).first()
    if member is None:
        raise StaffChangeRefused("No such store associate at this retailer.")
    return member


def store_associate_add(*, manager: PartnerMember, email: str, stores: list[Site]) -> PartnerMember:
    """Make the person with this verified email a store associate of the manager's retailer.

    The person signs up (and verifies the email) first: the dashboard never creates
    accounts or sets passwords. Raises `StaffChangeRefused` for an unknown or
    unverified email, someone already on the retailer's staff, or a store that is not
    the retailer's.
    """
    user = get_user_model().objects.filter(
        emailaddress__email__iexact=email.strip(), emailaddress__verified=True
    ).first()
    if user is None:
        raise StaffChangeRefused(f"No account has verified {email}: ask them to sign up first.")
    stores = _own_stores(manager, stores)
    with transaction.atomic():
        member, created = PartnerMember.objects.get_or_create(
            partner=manager.partner, user=user, defaults={"role": PartnerMember.Role.STORE_ASSOCIATE}
        )
        if not created:
            raise StaffChangeRefused(f"{email} is already on {manager.partner.name}'s staff.")
        member.stores.set(stores)
    return member


def store_associate_set_stores(*, manager: PartnerMember, member_id: int, stores: list[Site]) -> PartnerMember:
    """Set the stores an associate works at. Raises `StaffChangeRefused`."""
    member = _associate(manager, member_id)
    member.stores.set(_own_stores(manager, stores))
    return member


def store_associate_remove(*, manager: PartnerMember, member_id: int) -> None:
    """Take an associate off the retailer's staff (their account stays). Raises `StaffChangeRefused`."""
    _associate(manager, member_id).delete()
