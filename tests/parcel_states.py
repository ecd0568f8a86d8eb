"""Drive a parcel into any status through the real services (test support)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from lockers.models import Locker
from parcels import services
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, ParcelStatus
from parcels.services import ParcelSpec, Recipient

COURIER = Who(Actor.COURIER, "courier 7")
RECIPIENT = Who(Actor.RECIPIENT)
DEVICE = Who(Actor.DEVICE)


def reserved(announce: Callable[..., Parcel], **kwargs) -> Parcel:
    return announce(reserve=True, **kwargs)


def ready(announce: Callable[..., Parcel], **kwargs) -> Parcel:
    parcel = reserved(announce, **kwargs)
    return services.parcel_deposit(parcel_id=parcel.pk, who=COURIER)


def picked_up(announce: Callable[..., Parcel], locker: Locker) -> Parcel:
    parcel = ready(announce)
    pin, _ = services.code_secrets(parcel.pickup_code)
    services.pickup_code_verify(locker=locker, pin=pin)
    return services.parcel_pick_up(parcel_id=parcel.pk, who=DEVICE)


def expired(announce: Callable[..., Parcel]) -> Parcel:
    parcel = ready(announce)
    services.parcels_expire_due(now=parcel.pickup_deadline + timedelta(seconds=1))
    return Parcel.objects.get(pk=parcel.pk)


def returned(announce: Callable[..., Parcel]) -> Parcel:
    return services.parcel_collect(parcel_id=expired(announce).pk, who=COURIER)


def cancelled(announce: Callable[..., Parcel]) -> Parcel:
    return services.parcel_cancel(parcel_id=announce().pk, who=Who(Actor.PARTNER))


def return_announced(carrier, site, sizes, number: str = "RT00000001") -> tuple[Parcel, services.IssuedCode]:
    return services.return_announce(
        partner=carrier, tracking_number=number, site=site,
        recipient=Recipient(name="Ray Returner", phone="+16125550177"),
        spec=ParcelSpec(size_class=sizes["m"]), who=Who(Actor.PARTNER),
    )


def dropped_off(carrier, site, sizes, locker: Locker) -> Parcel:
    parcel, issued = return_announced(carrier, site, sizes)
    services.dropoff_code_verify(locker=locker, pin=issued.pin)
    return services.parcel_drop_off(parcel_id=parcel.pk, who=DEVICE)


def in_status(status: str, *, announce, carrier, site, sizes, locker) -> Parcel:
    makers = {
        ParcelStatus.ANNOUNCED: lambda: announce(),
        ParcelStatus.RESERVED: lambda: reserved(announce),
        ParcelStatus.READY_FOR_PICKUP: lambda: ready(announce),
        ParcelStatus.PICKED_UP: lambda: picked_up(announce, locker),
        ParcelStatus.EXPIRED: lambda: expired(announce),
        ParcelStatus.RETURNED_TO_SENDER: lambda: returned(announce),
        ParcelStatus.CANCELLED: lambda: cancelled(announce),
        ParcelStatus.RETURN_ANNOUNCED: lambda: return_announced(carrier, site, sizes)[0],
        ParcelStatus.DROPPED_OFF: lambda: dropped_off(carrier, site, sizes, locker),
    }
    parcel = makers[status]()
    assert parcel.status == status
    return parcel
