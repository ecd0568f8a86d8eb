"""Every transition of the canonical state machine: each allowed case through its
service, and each forbidden case through the one helper, which must change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carriers.models import PartnerEvent
from lockers.models import Site
from parcels import services
from parcels.errors import NoFittingCompartment, TransitionNotAllowed
from parcels.lifecycle import TERMINAL_STATUSES, TRANSITIONS, Who, apply_transition
from parcels.models import Actor, ExceptionReason, Parcel, ParcelEvent, ParcelStatus
from tests import parcel_states as states
from tests.parcel_states import COURIER, DEVICE, RECIPIENT

S = ParcelStatus


@pytest.fixture
def world(announce, carrier, site, sizes, locker):
    return {"announce": announce, "carrier": carrier, "site": site, "sizes": sizes, "locker": locker}


@pytest.fixture
def other_site(sizes, make_locker):
    other = Site.objects.create(
        code="uptown", name="Uptown Lockers", address_line="3001 Hennepin Ave", city="Minneapolis",
        postal_code="55408", latitude="44.948400", longitude="-93.298700",
    )
    make_locker("s m l", at=other, serial="SN-UPTOWN-1")
    return other


FORBIDDEN = [
    (action, status)
    for action, transition in TRANSITIONS.items()
    for status in S.values
    if status not in transition.sources
]


@pytest.mark.parametrize(("action", "status"), FORBIDDEN)
def test_it_refuses_a_forbidden_transition_and_changes_nothing(world, action, status):
    parcel = states.in_status(status, **world)
    events_before = ParcelEvent.objects.filter(parcel=parcel).count()
    outbox_before = PartnerEvent.objects.count()

    with pytest.raises(TransitionNotAllowed):
        apply_transition(parcel.pk, action, who=Who(Actor.OPERATOR))

    after = Parcel.objects.get(pk=parcel.pk)
    assert (after.status, after.compartment_id, after.updated_at) == (status, parcel.compartment_id, parcel.updated_at)
    assert ParcelEvent.objects.filter(parcel=parcel).count() == events_before
    assert PartnerEvent.objects.count() == outbox_before


def _reserve(world, _parcel=None):
    return services.parcel_reserve(parcel_id=world["announce"]().pk, who=COURIER)


def _release_hold(world):
    parcel = states.reserved(world["announce"])
    services.holds_release_expired(now=parcel.hold_expires_at + timedelta(seconds=1))
    return Parcel.objects.get(pk=parcel.pk)


def _change_door_reserved(world):
    parcel = states.reserved(world["announce"])
    services.deposit_door_problem(parcel_id=parcel.pk, problem="broken", who=COURIER)
    return Parcel.objects.get(pk=parcel.pk)


def _change_door_return(world):
    parcel, issued = states.return_announced(world["carrier"], world["site"], world["sizes"])
    services.dropoff_code_verify(locker=world["locker"], pin=issued.pin)
    return Parcel.objects.get(pk=parcel.pk)


def _refuse_deposit(world, *, reserve: bool):
    # The test locker has two large doors: with the other one broken, the courier
    # is left with no door for a large parcel.
    parcel = world["announce"](spec=services.ParcelSpec(size_class=world["sizes"]["l"]), reserve=reserve)
    large = world["locker"].compartments.filter(size_class__code="l")
    large.exclude(pk=parcel.compartment_id).update(condition="broken")
    with pytest.raises(NoFittingCompartment):
        if reserve:
            services.deposit_door_problem(parcel_id=parcel.pk, problem="broken", who=COURIER)
        else:
            large.update(condition="broken")
            services.deposit_door_assign(parcel_id=parcel.pk, locker=world["locker"], who=COURIER)
    return Parcel.objects.get(pk=parcel.pk)


def _deposit(world):
    return states.ready(world["announce"])


def _extend(world):
    parcel = states.ready(world["announce"])
    return services.parcel_extend(parcel_id=parcel.pk, who=RECIPIENT)


def _reissue_code(world):
    first = states.ready(world["announce"])
    states.ready(world["announce"])  # same recipient, same locker: one code for both
    return Parcel.objects.get(pk=first.pk)


def _late_offline_pickup(world):
    parcel = states.expired(world["announce"])
    before_deadline = parcel.pickup_deadline - timedelta(minutes=5)
    return services.parcel_pick_up(parcel_id=parcel.pk, who=DEVICE, occurred_at=before_deadline)


def _cancel(world, status):
    parcel = states.in_status(status, **world)
    return services.parcel_cancel(parcel_id=parcel.pk, who=Who(Actor.PARTNER))


def _redirect(world, status, other_site):
    parcel = states.in_status(status, **world)
    return services.parcel_redirect(parcel_id=parcel.pk, site=other_site, who=RECIPIENT)


def _collect(world, status):
    parcel = states.in_status(status, **world)
    return services.parcel_collect(parcel_id=parcel.pk, who=COURIER)


ALLOWED = {
    ("reserve", S.ANNOUNCED): (_reserve, S.RESERVED),
    ("release_hold", S.RESERVED): (_release_hold, S.ANNOUNCED),
    ("change_door", S.RESERVED): (_change_door_reserved, S.RESERVED),
    ("change_door", S.RETURN_ANNOUNCED): (_change_door_return, S.RETURN_ANNOUNCED),
    ("refuse_deposit", S.RESERVED): (lambda w: _refuse_deposit(w, reserve=True), S.ANNOUNCED),
    ("refuse_deposit", S.ANNOUNCED): (lambda w: _refuse_deposit(w, reserve=False), S.ANNOUNCED),
    ("deposit", S.RESERVED): (_deposit, S.READY_FOR_PICKUP),
    ("extend", S.READY_FOR_PICKUP): (_extend, S.READY_FOR_PICKUP),
    ("reissue_code", S.READY_FOR_PICKUP): (_reissue_code, S.READY_FOR_PICKUP),
    ("pick_up", S.READY_FOR_PICKUP): (lambda w: states.picked_up(w["announce"], w["locker"]), S.PICKED_UP),
    ("expire", S.READY_FOR_PICKUP): (lambda w: states.expired(w["announce"]), S.EXPIRED),
    ("pick_up", S.EXPIRED): (_late_offline_pickup, S.PICKED_UP),
    ("collect", S.EXPIRED): (lambda w: _collect(w, S.EXPIRED), S.RETURNED_TO_SENDER),
    ("collect", S.DROPPED_OFF): (lambda w: _collect(w, S.DROPPED_OFF), S.RETURNED_TO_SENDER),
    ("cancel", S.ANNOUNCED): (lambda w: _cancel(w, S.ANNOUNCED), S.CANCELLED),
    ("cancel", S.RESERVED): (lambda w: _cancel(w, S.RESERVED), S.CANCELLED),
    ("cancel", S.RETURN_ANNOUNCED): (lambda w: _cancel(w, S.RETURN_ANNOUNCED), S.CANCELLED),
    ("drop_off", S.RETURN_ANNOUNCED): (lambda w: states.dropped_off(w["carrier"], w["site"], w["sizes"], w["locker"]),
                                       S.DROPPED_OFF),
}


def test_every_allowed_transition_has_a_test():
    table = {(action, source) for action, t in TRANSITIONS.items() for source in t.sources}
    assert table == set(ALLOWED) | {("redirect", S.ANNOUNCED), ("redirect", S.RESERVED)}


@pytest.mark.parametrize(("action", "source"), list(ALLOWED), ids=[f"{a}-from-{s}" for a, s in ALLOWED])
def test_it_applies_an_allowed_transition_with_its_event_and_webhook(world, action, source):
    run, target = ALLOWED[(action, source)]
    parcel = run(world)

    assert parcel.status == target
    event = ParcelEvent.objects.filter(parcel=parcel, type=action).latest("id")
    assert (event.from_status, event.to_status) == (source, target)
    assert PartnerEvent.objects.filter(type=TRANSITIONS[action].webhook_type, payload__parcel__id=parcel.pk).exists()


@pytest.mark.parametrize("source", [S.ANNOUNCED, S.RESERVED])
def test_it_redirects_before_deposit_keeping_a_hold_if_there_was_one(world, other_site, source):
    parcel = _redirect(world, source, other_site)

    assert (parcel.site_id, parcel.status_reason) == (other_site.pk, "" if source == S.RESERVED else "redirected")
    assert parcel.status == source
    if source == S.RESERVED:
        assert parcel.compartment.locker.site_id == other_site.pk
    redirect = ParcelEvent.objects.get(parcel=parcel, type="redirect")
    assert (redirect.reason, redirect.details["to_site_id"]) == (ExceptionReason.REDIRECTED, other_site.pk)


def test_terminal_statuses_accept_no_transition():
    for transition in TRANSITIONS.values():
        assert not (transition.sources & TERMINAL_STATUSES)


def test_occupying_statuses_release_their_door_on_the_way_out(world):
    parcel = states.picked_up(world["announce"], world["locker"])
    assert parcel.compartment_id is None
    door = ParcelEvent.objects.get(parcel=parcel, type="pick_up").compartment
    assert door is not None and door.locker_id == world["locker"].pk


def test_a_reserved_parcel_cannot_be_picked_up_by_anyone(world):
    parcel = states.reserved(world["announce"])
    with pytest.raises(TransitionNotAllowed):
        services.parcel_pick_up(parcel_id=parcel.pk, who=DEVICE)


def test_an_expired_parcel_is_not_picked_up_after_its_deadline(world):
    parcel = states.expired(world["announce"])
    for late in (None, parcel.pickup_deadline + timedelta(minutes=1)):
        with pytest.raises(TransitionNotAllowed):
            services.parcel_pick_up(parcel_id=parcel.pk, who=DEVICE, occurred_at=late)
    assert Parcel.objects.get(pk=parcel.pk).status == S.EXPIRED
