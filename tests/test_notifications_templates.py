"""Every message kind renders in English and Spanish; SMS fit one GSM-7 segment."""

from __future__ import annotations

import pytest

from notifications.messages import message_render
from notifications.models import Notification
from parcels.services import code_secrets, page_token
from tests import parcel_states

# GSM 03.38 basic character set: any other character makes the SMS UCS-2, 70 per segment.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", Notification.Kind.values)
def test_each_sms_fits_one_gsm7_segment_and_each_email_has_text_and_html(announce, locker, settings, kind, language):
    settings.SITE_URL = "https://openlockers.example"
    parcel = parcel_states.picked_up(announce, locker) if kind == "picked_up" else parcel_states.ready(announce)
    sms = Notification(parcel=parcel, kind=kind, channel="sms", address="+16125550100", language=language)
    email = Notification(parcel=parcel, kind=kind, channel="email", address="ada@example.com", language=language)

    text = message_render(sms).text
    mail = message_render(email)

    assert text and len(text) <= 160, text
    assert set(text) <= GSM7, set(text) - GSM7
    assert mail.subject and mail.text and mail.html.startswith("<!doctype html>")
    assert f'lang="{language}"' in mail.html
    if kind in ("parcel_ready", "pickup_reminder", "expiring_today", "extended"):
        pin, _ = code_secrets(parcel.pickup_code)
        assert pin in text and pin in mail.text and pin in mail.html
    if kind not in ("picked_up", "expired"):  # an expired parcel's page refuses its link
        assert f"https://openlockers.example/p/{page_token(parcel)}/" in text
