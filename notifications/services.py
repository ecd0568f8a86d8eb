"""Writes to the recipient notification outbox."""

from __future__ import annotations

from django.utils import timezone

from parcels.models import Parcel

from .models import Notification


def notifications_enqueue(*, parcel: Parcel, kind: str, dedupe_key: str) -> list[Notification]:
    """Queue one message per channel the recipient can be reached on.

    Call inside the transaction that changes the parcel, so a rolled-back change sends
    nothing. The unique (parcel, kind, channel, dedupe_key) constraint makes a second
    call for the same event a no-op rather than a second SMS.
    """
    rows = []
    if parcel.recipient_phone:
        rows.append((Notification.Channel.SMS, parcel.recipient_phone.as_e164))
    if parcel.recipient_email:
        rows.append((Notification.Channel.EMAIL, parcel.recipient_email))
    now = timezone.now()
    return Notification.objects.bulk_create(
        [
            Notification(
                parcel=parcel,
                kind=kind,
                channel=channel,
                address=address,
                language=parcel.recipient_language,
                dedupe_key=dedupe_key[:64],
                next_attempt_at=now,
            )
            for channel, address in rows
        ],
        ignore_conflicts=True,
    )
