"""Proving a phone number by a six-digit code sent by SMS.

The pending check lives in the (server-side) session: only a keyed hash of the code,
the number, an expiry and a try counter, so nothing about it outlives the session.
"""

from __future__ import annotations

import secrets
import time

from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac

from notifications.channels import Message, channel_for

SESSION_KEY = "phone_verification"
CODE_TTL_SECONDS = 10 * 60
MAX_TRIES = 5
# Each text costs money and lands on someone's phone: cap them per account and per
# number, and count wrong codes per account and number across resends.
DAY = 24 * 3600
SEND_LIMITS = (("user-hour", 3, 3600), ("user-day", 10, DAY), ("phone-day", 5, DAY))
MAX_TRIES_PER_DAY = 10


class PhoneVerificationLimited(Exception):
    """Too many texts or wrong codes for now."""


def _count(key: str, window: int) -> int:
    cache.add(key, 0, window)
    return cache.incr(key)


def _take_send_allowance(user_id: int, phone: str) -> None:
    subjects = {"user-hour": user_id, "user-day": user_id, "phone-day": phone}
    for name, limit, _window in SEND_LIMITS:
        key = f"phone-verify:{name}:{subjects[name]}"
        if cache.get(key, 0) >= limit:
            raise PhoneVerificationLimited("Too many codes were sent. Try again later.")
    for name, _limit, window in SEND_LIMITS:
        _count(f"phone-verify:{name}:{subjects[name]}", window)


def _digest(phone: str, code: str) -> str:
    return salted_hmac("accounts.phone", f"{phone}:{code}").hexdigest()


def phone_code_send(*, session: SessionBase, user_id: int, phone: str) -> None:
    """Text a fresh code to `phone` and remember its hash.

    Raises `PhoneVerificationLimited` past the send limits, DeliveryError if the gateway refuses.
    """
    _take_send_allowance(user_id, phone)
    code = f"{secrets.randbelow(10**6):06d}"
    channel_for("sms").send(Message(to=phone, text=f"Open Lockers: your code is {code}. It expires in 10 minutes."))
    session[SESSION_KEY] = {
        "phone": phone, "digest": _digest(phone, code), "expires": time.time() + CODE_TTL_SECONDS, "tries": 0,
    }


def phone_code_check(*, session: SessionBase, user_id: int, code: str) -> str | None:
    """The phone number the code proves, or None (wrong, expired or too many tries).

    Raises `PhoneVerificationLimited` once the account has spent today's tries for the number.
    """
    pending = session.get(SESSION_KEY)
    if not pending or pending["expires"] < time.time() or pending["tries"] >= MAX_TRIES:
        return None
    if _count(f"phone-verify:tries:{user_id}:{pending['phone']}", DAY) > MAX_TRIES_PER_DAY:
        raise PhoneVerificationLimited("Too many wrong codes for this number today.")
    pending["tries"] += 1
    session[SESSION_KEY] = pending
    if not constant_time_compare(pending["digest"], _digest(pending["phone"], code.strip())):
        return None
    del session[SESSION_KEY]
    return pending["phone"]


def phone_pending(session: SessionBase) -> str | None:
    pending = session.get(SESSION_KEY)
    return pending["phone"] if pending else None
