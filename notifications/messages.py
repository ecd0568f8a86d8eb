"""Turning an outbox row into the text a recipient reads.

The code and the page link are computed here, at send time, from the parcel's seeds:
the outbox never stores a secret.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from parcels.models import Parcel
from parcels.services import code_secrets, page_token

from .channels import Message
from .models import Notification

# Kinds whose message only makes sense while the parcel is in this status: a late
# "your parcel is ready" after pickup would confuse, so such rows are dropped.
STILL_TRUE_WHILE = {
    Notification.Kind.PARCEL_READY: {"ready_for_pickup"},
    Notification.Kind.PICKUP_REMINDER: {"ready_for_pickup"},
    Notification.Kind.EXPIRING_TODAY: {"ready_for_pickup"},
    Notification.Kind.EXTENDED: {"ready_for_pickup"},
    Notification.Kind.RETURN_CODE: {"return_announced"},
}
# Kinds whose message carries the code that opens the door.
WITH_CODE = set(STILL_TRUE_WHILE)


def page_url(parcel: Parcel) -> str:
    """The recipient's pickup page: SITE_URL plus the unguessable token."""
    return settings.SITE_URL.rstrip("/") + reverse("parcels:pickup_page", args=[page_token(parcel)])


def is_stale(notification: Notification) -> bool:
    wanted = STILL_TRUE_WHILE.get(notification.kind)
    return wanted is not None and notification.parcel.status not in wanted


def _language(notification: Notification) -> str:
    codes = {code for code, _ in settings.LANGUAGES}
    return notification.language if notification.language in codes else settings.LANGUAGE_CODE


def message_context(notification: Notification) -> dict[str, Any]:
    parcel = notification.parcel
    code = ""
    if notification.kind in WITH_CODE and parcel.pickup_code is not None:
        code, _qr = code_secrets(parcel.pickup_code)
    return {
        "kind": notification.kind,
        "parcel": parcel,
        "name": parcel.recipient_name.split()[0] if parcel.recipient_name else "",
        "site": parcel.site,
        "partner": parcel.partner.name,
        "code": code,
        "link": page_url(parcel),
        "deadline": parcel.pickup_deadline,
        "count": _parcels_behind_code(notification),
    }


def _parcels_behind_code(notification: Notification) -> int:
    """How many waiting parcels this message's code opens (one code serves a recipient's pickup)."""
    parcel = notification.parcel
    if notification.kind != Notification.Kind.PARCEL_READY or parcel.pickup_code_id is None:
        return 1
    return Parcel.objects.filter(pickup_code_id=parcel.pickup_code_id, status="ready_for_pickup").count() or 1


def message_render(notification: Notification) -> Message:
    """The message for this row, in its language, with times in the site's time zone."""
    language = _language(notification)
    context = message_context(notification)
    folder = f"notifications/{language}"
    with translation.override(language), timezone.override(notification.parcel.site.tz):
        if notification.channel == Notification.Channel.SMS:
            text = " ".join(render_to_string(f"{folder}/sms.txt", context).split())
            return Message(to=notification.address, text=text)
        subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
        return Message(
            to=notification.address,
            subject=subject,
            text=render_to_string(f"{folder}/email.txt", context).strip() + "\n",
            html=render_to_string(f"{folder}/email.html", {**context, "subject": subject, "lang": language}),
        )
