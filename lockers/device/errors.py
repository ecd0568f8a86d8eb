"""Refusals of the device API, each with a stable problem `type` code (RFC 9457, see lockers_site.problems).

Signature failures are DRF authentication errors (401 with a WWW-Authenticate
challenge, or 403 for a locker that is locked out); refusals of a flow reuse the
project's domain error base so they carry extra members such as `locked_until`.
"""

from __future__ import annotations

from datetime import datetime

from rest_framework import exceptions, status

from parcels.errors import ParcelError


class SignatureMissing(exceptions.AuthenticationFailed):
    default_code = "signature_missing"
    default_detail = "The request is not signed: send the X-Locker-* headers."


class ClockSkew(exceptions.AuthenticationFailed):
    default_code = "clock_skew"
    default_detail = "The request's timestamp is too far from the server clock."


class DeviceStoreUnavailable(exceptions.APIException):
    """Redis, where nonces are kept, cannot be reached: the request cannot be checked for a replay.

    Refused rather than checked against the database alone, which does not hold the
    nonces Redis accepted: a replay would pass. The locker works from its offline bundle
    meanwhile and sends again later.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "device_store_unavailable"
    default_detail = "The server cannot check requests for replays right now: retry in a moment."


class NonceReused(exceptions.AuthenticationFailed):
    default_code = "nonce_reused"
    default_detail = "This nonce was already used: the request looks like a replay."


class SignatureInvalid(exceptions.AuthenticationFailed):
    default_code = "signature_invalid"
    default_detail = "The signature does not match the request."


class LockerRevoked(exceptions.PermissionDenied):
    default_code = "locker_revoked"
    default_detail = "This locker's credential is revoked or was never provisioned."


class LockerDecommissioned(exceptions.PermissionDenied):
    default_code = "locker_decommissioned"
    default_detail = "This locker is decommissioned and may not talk to the network."


class DeviceError(ParcelError):
    code = "device_error"
    title = "The locker's request was refused"


class ProvisioningRefused(DeviceError):
    code = "provisioning_refused"
    title = "The provisioning token is unknown, used or expired"
    http_status = status.HTTP_403_FORBIDDEN


class CourierRefused(DeviceError):
    code = "courier_refused"
    title = "The courier badge or PIN is not accepted here"
    http_status = status.HTTP_403_FORBIDDEN


class CourierLocked(DeviceError):
    code = "courier_locked"
    title = "Too many wrong PINs: the courier credential is locked for a while"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, detail: str, *, until: datetime) -> None:
        super().__init__(detail, locked_until=until.isoformat())
        self.until = until


class CourierSessionInvalid(DeviceError):
    code = "courier_session_invalid"
    title = "The courier session is missing, expired or for another locker"
    http_status = status.HTTP_401_UNAUTHORIZED


class ParcelNotFound(DeviceError):
    code = "parcel_not_found"
    title = "No such parcel for this courier at this locker"
    http_status = status.HTTP_404_NOT_FOUND


class CommandRefused(DeviceError):
    code = "command_refused"
    title = "The command cannot be queued"
    http_status = status.HTTP_400_BAD_REQUEST


class CommandRateLimited(DeviceError):
    code = "command_rate_limited"
    title = "Too many remote commands: try again later"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS


class CommandNotFound(DeviceError):
    code = "command_not_found"
    title = "No such command for this locker"
    http_status = status.HTTP_404_NOT_FOUND
