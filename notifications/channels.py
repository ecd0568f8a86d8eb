"""The two ways a message leaves us: email through Django's email backends, SMS
through a gateway chosen by the SMS_BACKEND setting.

One small interface: `send(message) -> provider id`, raising `DeliveryError` when
the channel refused or could not be reached (the task retries those), or
`AddressRefused` when it never will deliver to that address (no retry).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The channel did not take the message; worth trying again later."""


class AddressRefused(DeliveryError):
    """The channel will never deliver to this address (invalid, or unsubscribed at the gateway).

    `unsubscribed` is true when the recipient opted out at the gateway itself (Twilio's
    own STOP handling), so we record the opt-out too.
    """

    def __init__(self, detail: str, *, unsubscribed: bool = False) -> None:
        super().__init__(detail)
        self.unsubscribed = unsubscribed


@dataclass(frozen=True)
class Message:
    to: str
    text: str
    subject: str = ""
    html: str = ""


class Channel(Protocol):
    def send(self, message: Message) -> str: ...


class EmailChannel:
    """Email through whatever EMAIL_BACKEND says (SMTP in production)."""

    def send(self, message: Message) -> str:
        # Our own Message-ID, so the attempt log names the email the recipient's server saw.
        message_id = make_msgid(domain=urllib.parse.urlsplit(settings.SITE_URL).hostname or "localhost")
        email = EmailMultiAlternatives(
            subject=message.subject, body=message.text, to=[message.to], headers={"Message-ID": message_id}
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise AddressRefused(f"the mail server refused {message.to}: {error}") from error
        except OSError as error:  # smtplib errors are OSErrors: refused, unreachable, timed out
            raise DeliveryError(f"email to {message.to} failed: {error}") from error
        return message_id


# --- SMS gateways ----------------------------------------------------------------------------


class ConsoleSms:
    """Development: print the SMS to the log."""

    def send(self, message: Message) -> str:
        logger.info("SMS to %s: %s", message.to, message.text)
        return ""


class FileSms:
    """Development and tests: append each SMS as one JSON line to SMS_FILE_PATH."""

    def send(self, message: Message) -> str:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"to": message.to, "text": message.text, "at": timezone.now().isoformat()}) + "\n")
        return ""


class TwilioSms:
    """Twilio's Messages REST API, configured from TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM."""

    timeout_seconds = 10

    def send(self, message: Message) -> str:
        sid = settings.TWILIO_ACCOUNT_SID
        url = f"{settings.TWILIO_API_BASE}/2010-04-01/Accounts/{sid}/Messages.json"
        body = urllib.parse.urlencode({"To": message.to, "From": settings.TWILIO_FROM, "Body": message.text})
        basic = base64.b64encode(f"{sid}:{settings.TWILIO_AUTH_TOKEN}".encode()).decode()
        request = urllib.request.Request(
            url, data=body.encode(), method="POST",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return json.loads(response.read() or b"{}").get("sid", "")
        except urllib.error.HTTPError as error:
            raise _twilio_error(error.code, error.read()) from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise DeliveryError(f"Twilio unreachable: {error}") from error


# Twilio error codes that mean "never to this number": unsubscribed (replied STOP to
# Twilio), not a valid phone number, not a mobile number.
TWILIO_UNSUBSCRIBED = 21610
TWILIO_BAD_NUMBER = {21211, 21614}


def _twilio_error(status: int, body: bytes) -> DeliveryError:
    try:
        code = json.loads(body).get("code")
    except ValueError:
        code = None
    detail = f"Twilio answered {status} (error {code}): {body[:300]!r}"
    if code == TWILIO_UNSUBSCRIBED:
        return AddressRefused(detail, unsubscribed=True)
    if code in TWILIO_BAD_NUMBER:
        return AddressRefused(detail)
    return DeliveryError(detail)


def twilio_signature(*, url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 of the URL followed by the sorted POST params."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def twilio_signature_valid(*, url: str, params: dict[str, str], signature: str) -> bool:
    if not settings.TWILIO_AUTH_TOKEN or not signature:
        return False
    expected = twilio_signature(url=url, params=params, auth_token=settings.TWILIO_AUTH_TOKEN)
    return hmac.compare_digest(expected, signature)


def channel_for(kind: str) -> Channel:
    """The channel object for a Notification.Channel value."""
    if kind == "email":
        return EmailChannel()
    return import_string(settings.SMS_BACKEND)()

