"""The one canonical state machine: the transition table, the status catalogue, and
the single helper that applies a transition, writes its event and its outbox rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from django.db import transaction
from django.utils import timezone

from carriers.models import PartnerEvent
from lockers.models import Compartment
from lockers_site import rows
from notifications.models import Notification
from notifications.services import notifications_enqueue

from .errors import TransitionNotAllowed
from .models import Actor, Parcel, ParcelEvent
from .models import ParcelStatus as S


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the status stays as it is (an event without a status change)
    webhook_type: str
    notification: str | None = None


def _t(action: str, sources: set[str], target: str | None, webhook: str, notify: str | None = None) -> Transition:
    return Transition(action, frozenset(sources), target, webhook, notify)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("reserve", {S.ANNOUNCED}, S.RESERVED, "parcel.reserved"),
        _t("release_hold", {S.RESERVED}, S.ANNOUNCED, "parcel.hold_released"),
        _t("change_door", {S.RESERVED, S.RETURN_ANNOUNCED}, None, "parcel.door_changed"),
        _t("refuse_deposit", {S.ANNOUNCED, S.RESERVED}, S.ANNOUNCED, "parcel.deposit_refused"),
        _t("deposit", {S.RESERVED}, S.READY_FOR_PICKUP, "parcel.ready_for_pickup",
           Notification.Kind.PARCEL_READY),
        _t("extend", {S.READY_FOR_PICKUP}, None, "parcel.extended", Notification.Kind.EXTENDED),
        # No message of its own: the deposit that caused it sends one message with the
        # code that now opens every waiting parcel of the recipient.
        _t("reissue_code", {S.READY_FOR_PICKUP}, None, "parcel.code_reissued"),
        # From expired only for a pickup that happened before the deadline (an offline
        # locker reporting late); parcel_pick_up enforces the time.
        _t("pick_up", {S.READY_FOR_PICKUP, S.EXPIRED}, S.PICKED_UP, "parcel.picked_up", Notification.Kind.PICKED_UP),
        _t("expire", {S.READY_FOR_PICKUP}, S.EXPIRED, "parcel.expired", Notification.Kind.EXPIRED),
        _t("collect", {S.EXPIRED, S.DROPPED_OFF}, S.RETURNED_TO_SENDER, "parcel.returned_to_sender"),
        _t("cancel", {S.ANNOUNCED, S.RESERVED, S.RETURN_ANNOUNCED}, S.CANCELLED, "parcel.cancelled"),
        _t("redirect", {S.ANNOUNCED, S.RESERVED}, S.ANNOUNCED, "parcel.redirected", Notification.Kind.REDIRECTED),
        _t("drop_off", {S.RETURN_ANNOUNCED}, S.DROPPED_OFF, "parcel.dropped_off"),
    )
}

# Statuses a parcel is born in, with the event that records its birth.
BIRTH_EVENTS = {S.ANNOUNCED: "parcel.announced", S.RETURN_ANNOUNCED: "parcel.return_announced"}


@dataclass(frozen=True)
class StatusInfo:
    code: str
    title: str
    description: str
    terminal: bool


STATUS_CATALOGUE: tuple[StatusInfo, ...] = (
    StatusInfo(S.ANNOUNCED, "Announced", "The partner told us about the parcel; no door is held yet.", False),
    StatusInfo(S.RESERVED, "Reserved", "A fitting door is held for the parcel until the hold expires.", False),
    StatusInfo(S.READY_FOR_PICKUP, "Ready for pickup", "The parcel is in its door; the recipient has a code.", False),
    StatusInfo(S.PICKED_UP, "Picked up", "The recipient took the parcel.", True),
    StatusInfo(S.EXPIRED, "Expired", "The pickup deadline passed; the parcel waits for the courier.", False),
    StatusInfo(S.RETURNED_TO_SENDER, "Returned to sender", "A courier took the parcel back to the partner.", True),
    StatusInfo(S.CANCELLED, "Cancelled", "The partner cancelled the parcel before it was deposited.", True),
    StatusInfo(S.RETURN_ANNOUNCED, "Return announced", "The recipient has a drop-off code for a return.", False),
    StatusInfo(S.DROPPED_OFF, "Dropped off", "The return is in a door and waits for the courier.", False),
)
TERMINAL_STATUSES = frozenset(info.code for info in STATUS_CATALOGUE if info.terminal)


@dataclass
class Where:
    """Where an event happened; the compartment implies its locker and site."""

    compartment: Compartment | None = None
    locker_id: int | None = None


@dataclass
class Who:
    actor: str = Actor.SYSTEM
    label: str = ""
    user_id: int | None = None


@dataclass
class Change:
    """What a transition writes besides the status."""

    fields: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    notification_key: str = ""


def parcel_snapshot(parcel: Parcel) -> dict[str, Any]:
    """The parcel as partners see it in webhooks: ids, status and custody, no secrets."""
    return {
        "id": parcel.pk,
        "kind": parcel.kind,
        "tracking_number": parcel.tracking_number,
        "external_reference": parcel.external_reference,
        "status": parcel.status,
        "status_reason": parcel.status_reason or None,
        "site_id": parcel.site_id,
        "compartment_id": parcel.compartment_id,
        "pickup_deadline": parcel.pickup_deadline.isoformat() if parcel.pickup_deadline else None,
        "updated_at": timezone.now().isoformat(),
    }


class EventFields(TypedDict):
    """What a custody event says, beyond its parcel: `event_values` and `record_event` take these."""

    event_type: str
    from_status: str
    where: Where
    who: Who
    occurred_at: datetime
    reason: NotRequired[str]
    details: NotRequired[dict[str, Any] | None]
    # When the server records it: now, unless given (a statement built once gives a slot).
    recorded_at: NotRequired[datetime]


def event_values(parcel: Parcel, **event: Unpack[EventFields]) -> dict[str, Any]:
    """The custody event's row, by field: what `record_event` inserts, and what a statement
    writing events together with another change inserts (`lockers_site.rows.insert_sql`)."""
    where, who = event["where"], event["who"]
    compartment = where.compartment
    return {
        "parcel": parcel.pk,
        "type": event["event_type"],
        "from_status": event["from_status"],
        "to_status": parcel.status,
        "reason": event.get("reason", ""),
        "occurred_at": event["occurred_at"],
        "recorded_at": event.get("recorded_at") or timezone.now(),
        "site": compartment.locker.site_id if compartment else parcel.site_id,
        "locker": compartment.locker_id if compartment else where.locker_id,
        "compartment": compartment.pk if compartment else None,
        "actor": who.actor,
        "actor_label": who.label,
        "user": who.user_id,
        "details": event.get("details") or {},
    }


def record_event(parcel: Parcel, *, webhook_type: str | None = None, **event: Unpack[EventFields]) -> None:
    """Write the custody event and the partner's webhook outbox row. Call inside a transaction.

    The event is one written-out insert (`lockers_site.rows`): every transition and every
    code that opens a door writes one, and the ORM's save cost a sixth of a code check's
    CPU. Nothing reads the event back in the request, and no signal listens to it.
    """
    rows.insert(ParcelEvent, event_values(parcel, **event))
    if webhook_type:
        PartnerEvent.objects.create(
            id=uuid.uuid4(),
            partner_id=parcel.partner_id,
            type=webhook_type,
            occurred_at=event["occurred_at"],
            payload={"parcel": parcel_snapshot(parcel), "reason": event.get("reason") or None},
        )


def apply_transition(
    parcel_id: int,
    action: str,
    *,
    who: Who,
    where: Where | None = None,
    change: Change | None = None,
    occurred_at: datetime | None = None,
) -> Parcel:
    """Apply `action` to the parcel under a row lock, with its event and outbox rows.

    Raises `TransitionNotAllowed` (and changes nothing) if the parcel's current status
    is not a source of the action. Runs in its own atomic block, so callers may nest it
    in a larger transaction that also rolls it back.
    """
    transition = TRANSITIONS[action]
    change = change or Change()
    with transaction.atomic():
        parcel = Parcel.objects.select_for_update().get(pk=parcel_id)
        if parcel.status not in transition.sources:
            raise TransitionNotAllowed(
                f"Cannot {action.replace('_', ' ')} a parcel that is {parcel.get_status_display().lower()}.",
                status=parcel.status,
                action=action,
            )
        from_status = parcel.status
        if transition.target is not None:
            parcel.status = transition.target
            parcel.status_reason = change.reason
        for name, value in change.fields.items():
            setattr(parcel, name, value)
        # Only what a transition changes: the parcel was read under the lock just above.
        parcel.save(update_fields=["status", "status_reason", *change.fields, "updated_at"])
        when = occurred_at or timezone.now()
        where = where or Where(compartment=parcel.compartment)
        record_event(
            parcel,
            event_type=action,
            from_status=from_status,
            where=where,
            who=who,
            occurred_at=when,
            reason=change.reason,
            details=change.details,
            webhook_type=transition.webhook_type,
        )
        if transition.notification:
            notifications_enqueue(
                parcel=parcel, kind=transition.notification, dedupe_key=change.notification_key or str(when.timestamp())
            )
    return parcel
