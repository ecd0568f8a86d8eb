"""Writes to partners and their people.

Courier PINs are kept only as an HMAC keyed with `settings.CODE_PEPPER`: a database
dump alone does not let anyone test the (few) possible PINs offline.
"""

from __future__ import annotations

import hmac

from django.contrib.auth.models import AbstractBaseUser

from parcels.codes import keyed_hash

from .models import CourierCredential, Partner

# Short enough to type on a locker keypad; guessing is stopped by the lockout
# counters on the credential, not by length alone.
PIN_LENGTHS = range(4, 9)


class InvalidPin(ValueError):
    """A PIN that is not 4 to 8 digits."""


def validate_pin(pin: str) -> None:
    """Raise `InvalidPin` unless `pin` is 4 to 8 ASCII digits."""
    if not (pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS):
        raise InvalidPin(f"A courier PIN is {PIN_LENGTHS.start} to {PIN_LENGTHS.stop - 1} digits.")


def _pin_hash(*, badge_number: str, pin: str) -> str:
    # The badge is part of the message so two couriers with the same PIN do not
    # share a hash (which would tell a reader of the table that they do).
    return keyed_hash("courier-pin", f"{badge_number}\x00{pin}")


def courier_credential_create(
    *,
    partner: Partner,
    courier_name: str,
    badge_number: str,
    pin: str,
    user: AbstractBaseUser | None = None,
) -> CourierCredential:
    """Create a courier's locker credential. Raises `InvalidPin`; the PIN is never stored."""
    validate_pin(pin)
    return CourierCredential.objects.create(
        partner=partner,
        courier_name=courier_name,
        badge_number=badge_number,
        pin_hash=_pin_hash(badge_number=badge_number, pin=pin),
        user=user,
    )


def courier_credential_set_pin(*, credential: CourierCredential, pin: str) -> None:
    """Give a credential a new PIN and lift any lockout. Raises `InvalidPin`."""
    validate_pin(pin)
    credential.pin_hash = _pin_hash(badge_number=credential.badge_number, pin=pin)
    credential.failed_attempts = 0
    credential.locked_until = None
    CourierCredential.objects.filter(pk=credential.pk).update(
        pin_hash=credential.pin_hash, failed_attempts=0, locked_until=None
    )


def courier_pin_matches(*, credential: CourierCredential, pin: str) -> bool:
    """Constant-time check of a typed PIN against the stored keyed hash."""
    return hmac.compare_digest(credential.pin_hash, _pin_hash(badge_number=credential.badge_number, pin=pin))
