"""Random sequences of lifecycle operations never break the invariants:
one parcel per door, a code opens at most once, terminal stays terminal, and every
change of status has its event."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from parcels import services
from parcels.errors import ParcelError
from parcels.lifecycle import TERMINAL_STATUSES
from parcels.models import Parcel, ParcelEvent, PickupCode
from parcels.services import ParcelSpec, Recipient
from tests.parcel_states import COURIER, DEVICE, RECIPIENT

RECIPIENTS = [Recipient(name=f"R{i}", phone=f"+1612555{i:04d}") for i in range(3)]


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, world: dict) -> None:
        super().__init__()
        self.world = world
        self.savepoint = transaction.savepoint()
        self.numbers = iter(range(1, 10_000))
        self.parcel_ids: list[int] = []
        self.seen_terminal: dict[int, str] = {}
        self.opened_codes: list[int] = []
        self.pins: list[str] = []

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    def _pick(self, index: int, *statuses: str) -> int:
        """A parcel, preferably in one of `statuses` so that sequences reach deep states."""
        fitting = list(Parcel.objects.filter(pk__in=self.parcel_ids, status__in=statuses).values_list("pk", flat=True))
        pool = fitting or self.parcel_ids
        return pool[index % len(pool)]

    def _try(self, operation, **kwargs):
        try:
            return operation(**kwargs)
        except ParcelError:
            return None  # a refusal is a legal outcome; the invariants judge what it left behind

    @rule(size=st.sampled_from(["s", "m", "l"]), reserve=st.booleans(), who=st.integers(0, 2))
    def announce(self, size, reserve, who):
        parcel = self._try(
            services.parcel_announce, partner=self.world["carrier"], tracking_number=f"HY{next(self.numbers)}",
            site=self.world["site"], recipient=RECIPIENTS[who], spec=ParcelSpec(size_class=self.world["sizes"][size]),
            reserve=reserve, who=COURIER,
        )
        if parcel:
            self.parcel_ids.append(parcel.pk)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50))
    def reserve(self, index):
        self._try(services.parcel_reserve, parcel_id=self._pick(index, "announced"), who=COURIER)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50))
    def deposit(self, index):
        self._try(services.parcel_deposit, parcel_id=self._pick(index, "reserved"), who=COURIER)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50), problem=st.sampled_from(["broken", "too_small", "occupied"]))
    def report_door_problem(self, index, problem):
        self._try(services.deposit_door_problem, parcel_id=self._pick(index, "reserved"), problem=problem, who=COURIER)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50), door_closes=st.booleans())
    def collect_with_code(self, index, door_closes):
        parcel = Parcel.objects.select_related("pickup_code").get(pk=self._pick(index, "ready_for_pickup"))
        if parcel.pickup_code is None:
            return
        pin, _ = services.code_secrets(parcel.pickup_code)
        self.pins.append(pin)
        opened = self._try(services.pickup_code_verify, locker=self.world["locker"], pin=pin)
        if opened:
            self.opened_codes.append(opened[0].pickup_code_id)
        for door in opened or []:
            if door_closes:  # otherwise the door is still open: the parcel is not picked up yet
                self._try(services.parcel_pick_up, parcel_id=door.pk, who=DEVICE)

    @precondition(lambda self: self.pins)
    @rule(index=st.integers(0, 50))
    def retype_an_old_code(self, index):
        pin = self.pins[index % len(self.pins)]
        opened = self._try(services.pickup_code_verify, locker=self.world["locker"], pin=pin)
        if opened:
            self.opened_codes.append(opened[0].pickup_code_id)

    @rule(hours=st.integers(1, 200))
    def time_passes(self, hours):
        later = Parcel.objects.order_by("created_at").last()
        if later:
            moment = later.created_at + timedelta(hours=hours)
            services.holds_release_expired(now=moment)
            services.parcels_expire_due(now=moment)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50))
    def courier_collects(self, index):
        self._try(services.parcel_collect, parcel_id=self._pick(index, "expired"), who=COURIER)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50))
    def cancel(self, index):
        self._try(services.parcel_cancel, parcel_id=self._pick(index), who=COURIER)

    @precondition(lambda self: self.parcel_ids)
    @rule(index=st.integers(0, 50))
    def extend(self, index):
        self._try(services.parcel_extend, parcel_id=self._pick(index, "ready_for_pickup"), who=RECIPIENT)

    @invariant()
    def at_most_one_parcel_per_door(self):
        crowded = Parcel.objects.exclude(compartment=None).values("compartment").annotate(n=Count("pk")).filter(n__gt=1)
        assert not crowded.exists()

    @invariant()
    def doors_are_held_exactly_while_occupying(self):
        assert not Parcel.objects.filter(status__in=Parcel.OCCUPYING_STATUSES, compartment=None).exists()
        assert not Parcel.objects.filter(status__in=TERMINAL_STATUSES).exclude(compartment=None).exists()

    @invariant()
    def a_code_opens_at_most_once(self):
        assert len(self.opened_codes) == len(set(self.opened_codes))
        assert not PickupCode.objects.filter(pk__in=self.opened_codes, state="live").exists()

    @invariant()
    def terminal_states_stay_terminal(self):
        for pk, status in Parcel.objects.filter(pk__in=self.parcel_ids).values_list("pk", "status"):
            if pk in self.seen_terminal:
                assert status == self.seen_terminal[pk]
            elif status in TERMINAL_STATUSES:
                self.seen_terminal[pk] = status

    @invariant()
    def every_status_change_has_its_event(self):
        for parcel in Parcel.objects.filter(pk__in=self.parcel_ids):
            events = ParcelEvent.objects.filter(parcel=parcel).order_by("id")
            trail = list(events.values_list("from_status", "to_status"))
            assert trail[-1][1] == parcel.status
            for (_, before), (after_from, _) in itertools.pairwise(trail):
                assert after_from == before  # no change of status happened without an event


@pytest.mark.django_db
def test_random_operations_keep_the_invariants(carrier, site, sizes, make_locker):
    world = {"carrier": carrier, "site": site, "sizes": sizes, "locker": make_locker("s s m\nm l")}
    run_state_machine_as_test(
        lambda: LifecycleMachine(world),
        settings=settings(max_examples=30, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )
