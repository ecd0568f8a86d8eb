"""Pickup and drop-off codes: generation, keyed hashing, and the guessing model.

A code is never stored. A `PickupCode` row keeps a random seed; the keypad PIN and
the QR token are HMAC-SHA256 of that seed under `settings.CODE_PEPPER`, which lives
outside the database. Look-ups go through a second keyed hash, so a database dump
alone reveals no code and cannot be turned into one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

from lockers.services import MAX_COMPARTMENTS_PER_LOCKER

# Eight digits type in about four seconds on a keypad and, with the limits below,
# keep a stranger's chance of opening any door of one locker in a day under 1e-4.
PIN_DIGITS = 8
# Consecutive wrong codes allowed before the keypad backs off (30 s, doubling, at most 1 h).
KEYPAD_FREE_TRIES = 5
KEYPAD_FIRST_BACKOFF_SECONDS = 30
KEYPAD_MAX_BACKOFF_SECONDS = 3600
# Wrong codes a locker's keypad tests per local day before it refuses typed codes
# until midnight (QR scans still work: 160-bit tokens cannot be guessed).
KEYPAD_DAILY_WRONG_CAP = 30
# The security target of the product brief.
TARGET_DAILY_BREAK_IN_CHANCE = 1e-4
QR_TOKEN_BYTES = 20  # 160 bits


def modelled_daily_break_in_chance(
    *,
    digits: int = PIN_DIGITS,
    daily_wrong_cap: int = KEYPAD_DAILY_WRONG_CAP,
    live_codes: int = MAX_COMPARTMENTS_PER_LOCKER,
) -> float:
    """Upper bound on a stranger opening any door at one locker in one day.

    Each tested guess hits one of at most `live_codes` live codes among 10^digits
    equally likely values; at most `daily_wrong_cap` wrong guesses are tested per day
    (the cap is taken before the code is checked, so concurrency cannot exceed it).
    Union bound: cap x live / 10^digits.
    """
    return min(1.0, daily_wrong_cap * live_codes / 10**digits)


def _mac(purpose: str, value: str) -> bytes:
    return hmac.new(settings.CODE_PEPPER.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def keyed_hash(purpose: str, value: str) -> str:
    """Hex HMAC-SHA256 of `value` for look-ups; `purpose` separates the hash domains."""
    return _mac(f"hash:{purpose}", value).hex()


def new_seed() -> str:
    return secrets.token_hex(32)


def pin_from_seed(seed: str) -> str:
    number = int.from_bytes(_mac("pin", seed), "big") % 10**PIN_DIGITS
    return f"{number:0{PIN_DIGITS}d}"


def qr_token_from_seed(seed: str) -> str:
    return base64.urlsafe_b64encode(_mac("qr", seed)[:QR_TOKEN_BYTES]).decode().rstrip("=")


def page_token_from_seed(seed: str) -> str:
    """The token in a recipient's page link (192 bits)."""
    return base64.urlsafe_b64encode(_mac("page", seed)[:24]).decode()


def pin_hash(site_id: int, pin: str) -> str:
    # Bound to the site so one typed code names at most one set of parcels per site.
    return keyed_hash("pin", f"{site_id}:{pin.strip()}")


def qr_hash(token: str) -> str:
    return keyed_hash("qr", token.strip())


def page_token_hash(token: str) -> str:
    return keyed_hash("page", token.strip())
