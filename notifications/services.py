"""Writes to the recipient notification outbox and to recipients' choices."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from parcels.models import Parcel, ParcelStatus

from .models import Notification, OptOut, RecipientProfile
from .selectors import normalise_address

logger = logging.getLogger(__name__)


def _dispatch_after_commit(parcel_id: int) -> None:
    """Ask a worker to send the parcel's new rows now rather than at the next sweep."""
    from django_q.tasks import async_task

    async_task("notifications.tasks.notifications_send_due", parcel_id=parcel_id, task_name=f"notify-{parcel_id}")


def _profile_language(channel: str, address: str) -> str | None:
    """A signed-up recipient's chosen language for this address, if any."""
    if channel == Notification.Channel.SMS:
        match = Q(phone=address, phone_verified=True)
    else:
        match = Q(user__emailaddress__email__iexact=address, user__emailaddress__verified=True)
    return RecipientProfile.objects.filter(match).values_list("language", flat=True).first()


def notifications_enqueue(*, parcel: Parcel, kind: str, dedupe_key: str) -> list[Notification]:
    """Queue one message per channel the recipient can be reached on.

    Call inside the transaction that changes the parcel, so a rolled-back change sends
    nothing. The unique (parcel, kind, channel, dedupe_key) constraint makes a second
    call for the same event a no-op rather than a second SMS. After commit a worker is
    asked to send at once; if that hand-off fails the minute sweep sends them anyway.
    """
    rows = []
    if parcel.recipient_phone:
        rows.append((Notification.Channel.SMS, parcel.recipient_phone.as_e164))
    if parcel.recipient_email:
        rows.append((Notification.Channel.EMAIL, normalise_address(channel="email", address=parcel.recipient_email)))
    now = timezone.now()
    created = Notification.objects.bulk_create(
        [
            Notification(
                parcel=parcel,
                kind=kind,
                channel=channel,
                address=address,
                language=_profile_language(channel, address) or parcel.recipient_language,
                dedupe_key=dedupe_key[:64],
                next_attempt_at=now,
            )
            for channel, address in rows
        ],
        ignore_conflicts=True,
    )
    if rows:
        transaction.on_commit(lambda: _dispatch_after_commit(parcel.pk), robust=True)
    return created


def notification_resend(*, notification_id: int) -> Notification:
    """Operator: send this notification again (with today's code and link), as a new attempt."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        notification.status = Notification.Status.PENDING
        notification.next_attempt_at = timezone.now()
        notification.claimed_until = None
        notification.claim_token = ""
        notification.save(update_fields=["status", "next_attempt_at", "claimed_until", "claim_token"])
        parcel_id = notification.parcel_id
        transaction.on_commit(lambda: _dispatch_after_commit(parcel_id), robust=True)
    return notification


def optout_add(*, channel: str, address: str, source: str) -> OptOut:
    """Stop sending on `channel` to `address`; rows already queued are suppressed at send time."""
    optout, _ = OptOut.objects.get_or_create(
        channel=channel, address=normalise_address(channel=channel, address=address), defaults={"source": source}
    )
    return optout


def optout_remove(*, channel: str, address: str) -> None:
    """Allow `channel` to `address` again (SMS START, or the account setting)."""
    OptOut.objects.filter(channel=channel, address=normalise_address(channel=channel, address=address)).delete()


def reminders_enqueue(*, now: datetime | None = None) -> int:
    """Queue the reminder before the deadline and the 'expiring today' message for waiting parcels.

    Each is keyed by the deadline, so it goes once per deadline, and an extension
    (a new deadline) earns a new reminder. Safe to run often and concurrently.
    Returns how many parcels got a new message queued.
    """
    now = now or timezone.now()
    waiting = Parcel.objects.filter(
        status=ParcelStatus.READY_FOR_PICKUP, pickup_deadline__gt=now,
        pickup_deadline__lte=now + settings.REMINDER_BEFORE_DEADLINE,
    ).select_related("site")
    queued = 0
    for parcel in waiting:
        local_now, local_deadline = now.astimezone(parcel.site.tz), parcel.pickup_deadline.astimezone(parcel.site.tz)
        # "Today" only once the recipient's morning has begun: nobody wants an SMS at midnight.
        expiring_today = local_deadline.date() == local_now.date() and local_now.hour >= settings.REMINDER_MORNING_HOUR
        kind = Notification.Kind.EXPIRING_TODAY if expiring_today else Notification.Kind.PICKUP_REMINDER
        key = f"deadline-{parcel.pickup_deadline.timestamp()}"
        if Notification.objects.filter(parcel=parcel, kind=kind, dedupe_key=key).exists():
            continue  # already queued by an earlier run; the unique constraint covers a racing one
        with transaction.atomic():
            notifications_enqueue(parcel=parcel, kind=kind, dedupe_key=key)
        queued += 1
    return queued


def profile_update(
    *, user, language: str, preferred_site_id: int | None, sms: bool, email: bool
) -> RecipientProfile:
    """Save a recipient's preferred site, language and channels.

    Channels are honoured through opt-outs of the user's verified addresses, so a
    message already queued respects the choice too.
    """
    from .selectors import user_verified_addresses

    with transaction.atomic():
        profile, _ = RecipientProfile.objects.get_or_create(user=user)
        profile.language = language
        profile.preferred_site_id = preferred_site_id
        profile.save(update_fields=["language", "preferred_site"])
        emails, phones = user_verified_addresses(user)
        for channel, wanted, addresses in (
            (Notification.Channel.EMAIL, email, emails),
            (Notification.Channel.SMS, sms, phones),
        ):
            for address in addresses:
                if wanted:
                    optout_remove(channel=channel, address=address)
                else:
                    optout_add(channel=channel, address=address, source=OptOut.Source.PROFILE)
    return profile


def profile_phone_verified(*, user, phone: str) -> RecipientProfile:
    """Record that `user` proved they receive SMS at `phone` (E.164).

    A phone number is verified for one account at a time: numbers get recycled, so the
    latest proof wins and any older claim on the number is withdrawn.
    """
    with transaction.atomic():
        RecipientProfile.objects.filter(phone=phone, phone_verified=True).exclude(user=user).update(
            phone_verified=False
        )
        profile, _ = RecipientProfile.objects.get_or_create(user=user)
        profile.phone, profile.phone_verified = phone, True
        profile.save(update_fields=["phone", "phone_verified"])
    return profile
