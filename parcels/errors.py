"""Domain errors of the parcel lifecycle. Each has a stable `code` used by every surface."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class ParcelError(Exception):
    code = "parcel_error"
    title = "Parcel request refused"
    http_status = 409

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class TransitionNotAllowed(ParcelError):
    code = "transition_not_allowed"
    title = "This change is not allowed in the parcel's current status"


class NoFittingCompartment(ParcelError):
    code = "no_fitting_compartment"
    title = "No fitting compartment is free at this site"

    def __init__(self, detail: str, *, nearby: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, nearby=nearby or [])
        self.nearby = nearby or []


class ParcelTooBig(ParcelError):
    code = "parcel_too_big"
    title = "The parcel fits no compartment size of the network"
    http_status = 422


class SiteUnavailable(ParcelError):
    code = "site_unavailable"
    title = "The site does not accept parcels now"


class ExtensionNotAllowed(ParcelError):
    code = "extension_not_allowed"
    title = "The pickup window cannot be extended"


class CodeRefused(ParcelError):
    code = "code_refused"
    title = "The code does not open any door here"
    http_status = 403


class KeypadLocked(ParcelError):
    code = "keypad_locked"
    title = "Too many wrong codes: the keypad is locked for a while"
    http_status = 429

    def __init__(self, detail: str, *, until: datetime) -> None:
        super().__init__(detail, locked_until=until.isoformat())
        self.until = until


class DuplicateTrackingNumber(ParcelError):
    code = "duplicate_tracking_number"
    title = "This partner already has a parcel with this tracking number"
