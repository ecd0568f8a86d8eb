"""Proving a phone number by a six-digit code sent by SMS.

The pending check lives in the (server-side) session: only a keyed hash of the code,
the number, an expiry and a try counter, so nothing about it outlives the session.
"""

from __future__ import annotations

import secrets
import time

from django.contrib.sessions.backends.base import SessionBase
from django.utils.crypto import constant_time_compare, salted_hmac

from notifications.channels import Message, channel_for

SESSION_KEY = "phone_verification"
CODE_TTL_SECONDS = 10 * 60
MAX_TRIES = 5


def _digest(phone: str, code: str) -> str:
    return salted_hmac("accounts.phone", f"{phone}:{code}").hexdigest()


def phone_code_send(*, session: SessionBase, phone: str) -> None:
    """Text a fresh code to `phone` and remember its hash. Raises DeliveryError if the gateway refuses."""
    code = f"{secrets.randbelow(10**6):06d}"
    channel_for("sms").send(Message(to=phone, text=f"Open Lockers: your code is {code}. It expires in 10 minutes."))
    session[SESSION_KEY] = {
        "phone": phone, "digest": _digest(phone, code), "expires": time.time() + CODE_TTL_SECONDS, "tries": 0,
    }


def phone_code_check(*, session: SessionBase, code: str) -> str | None:
    """The phone number the code proves, or None (wrong, expired or too many tries)."""
    pending = session.get(SESSION_KEY)
    if not pending or pending["expires"] < time.time() or pending["tries"] >= MAX_TRIES:
        return None
    pending["tries"] += 1
    session[SESSION_KEY] = pending
    if not constant_time_compare(pending["digest"], _digest(pending["phone"], code.strip())):
        return None
    del session[SESSION_KEY]
    return pending["phone"]


def phone_pending(session: SessionBase) -> str | None:
    pending = session.get(SESSION_KEY)
    return pending["phone"] if pending else None
