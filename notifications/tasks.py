"""django-q2 entry points that deliver the notification outbox.

Delivery is at least once: a worker claims a row with one conditional update (so two
workers never hold it together) and a lease (`claimed_until`). If the worker dies
after the gateway took the message but before the row says so, the lease runs out
and the sweep sends it again; a duplicate is the price of never losing a message.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lockers_site.backoff import next_attempt_at

from .channels import AddressRefused, DeliveryError, channel_for
from .messages import is_stale, message_render
from .models import Notification, NotificationAttempt, OptOut
from .selectors import address_opted_out
from .services import optout_add

logger = logging.getLogger(__name__)
S = Notification.Status


def _due(now: datetime) -> Q:
    """Rows a worker may claim now: pending and due, or sending with a lapsed lease."""
    return Q(status=S.PENDING, next_attempt_at__lte=now) | Q(status=S.SENDING, claimed_until__lt=now)


def notification_claim(*, notification_id: int, now: datetime | None = None) -> tuple[Notification, str] | None:
    """Take the row for one send attempt, or None if it is not due or another worker holds it.

    One UPDATE ... WHERE decides between racing workers: the database lets exactly one
    of them match the row.
    """
    now = now or timezone.now()
    token = secrets.token_hex(16)
    taken = Notification.objects.filter(_due(now), pk=notification_id).update(
        status=S.SENDING,
        claimed_until=now + timedelta(seconds=settings.NOTIFICATION_CLAIM_SECONDS),
        claim_token=token,
        attempts=F("attempts") + 1,
    )
    if not taken:
        return None
    notification = Notification.objects.select_related(
        "parcel__site", "parcel__partner", "parcel__pickup_code"
    ).get(pk=notification_id)
    return notification, token


def _finish(notification: Notification, token: str, **fields: object) -> None:
    # Only the holder of the claim may close it; a worker whose lease lapsed finds no row.
    Notification.objects.filter(pk=notification.pk, claim_token=token).update(
        claimed_until=None, claim_token="", **fields
    )


NOTIFICATION_RETRY_CAP_SECONDS = 3600


def _retry_at(attempts: int, now: datetime) -> datetime:
    """Exponential backoff after `attempts` failed tries, capped at an hour."""
    return next_attempt_at(attempts, now, base_seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS,
                           cap_seconds=NOTIFICATION_RETRY_CAP_SECONDS)


def _record_failure(
    notification: Notification, token: str, started: datetime, error: str, *, final: bool = False
) -> None:
    now = timezone.now()
    gave_up = final or notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
    with transaction.atomic():
        NotificationAttempt.objects.create(
            notification=notification, number=notification.attempts, started_at=started,
            outcome=NotificationAttempt.Outcome.FAILED, error=error[:2000],
        )
        _finish(
            notification, token, status=S.FAILED if gave_up else S.PENDING, last_error=error[:2000],
            next_attempt_at=None if gave_up else _retry_at(notification.attempts, now),
        )


def _record_success(notification: Notification, token: str, started: datetime, provider_id: str) -> None:
    with transaction.atomic():
        NotificationAttempt.objects.create(
            notification=notification, number=notification.attempts, started_at=started,
            outcome=NotificationAttempt.Outcome.SENT, provider_id=provider_id[:120],
        )
        _finish(notification, token, status=S.SENT, sent_at=timezone.now(), last_error="")


def notification_deliver(notification_id: int) -> str:
    """Claim one row and hand it to its channel once; returns the row's status after.

    A failure schedules a retry with backoff until NOTIFICATION_MAX_ATTEMPTS, then the
    row is failed; an address the channel refuses for good fails at once (and an
    unsubscribed number is recorded as opted out). An opted-out address or a message
    no longer true is suppressed without sending. Never raises for a channel failure.
    """
    claimed = notification_claim(notification_id=notification_id)
    if claimed is None:
        return "not_due"
    notification, token = claimed
    if address_opted_out(channel=notification.channel, address=notification.address):
        _finish(notification, token, status=S.SUPPRESSED, last_error="The recipient opted out of this channel.")
        return S.SUPPRESSED
    if is_stale(notification):
        _finish(notification, token, status=S.SUPPRESSED,
                last_error=f"Not sent: the parcel is now {notification.parcel.get_status_display().lower()}.")
        return S.SUPPRESSED
    started = timezone.now()
    try:
        provider_id = channel_for(notification.channel).send(message_render(notification))
    except AddressRefused as error:
        if error.unsubscribed:
            optout_add(channel=notification.channel, address=notification.address, source=OptOut.Source.SMS_STOP)
        _record_failure(notification, token, started, str(error), final=True)
        return S.FAILED
    except Exception as error:
        if not isinstance(error, DeliveryError):  # a bug, not a refusal: keep the trace for the operator
            logger.exception("notification %s could not be sent", notification.pk)
        _record_failure(notification, token, started, f"{type(error).__name__}: {error}")
        return S.PENDING if notification.attempts < settings.NOTIFICATION_MAX_ATTEMPTS else S.FAILED
    _record_success(notification, token, started, provider_id)
    return S.SENT


def notifications_send_due(*, parcel_id: int | None = None, limit: int = 200) -> int:
    """Deliver every due row (of one parcel, if given); the schedule runs this each minute.

    Safe to run in many workers at once: each row is claimed before it is sent.
    Returns how many rows this call sent.
    """
    due = Notification.objects.filter(_due(timezone.now()))
    if parcel_id is not None:
        due = due.filter(parcel_id=parcel_id)
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    return sum(notification_deliver(pk) == S.SENT for pk in ids)
