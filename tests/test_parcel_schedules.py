from datetime import timedelta

from django_q.models import Schedule
from django_q.tasks import async_task

from parcels.models import ParcelStatus
from tests import parcel_states as states


def test_the_lifecycle_schedules_are_installed_by_migrate(db):
    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {"parcels.tasks.holds_release", "parcels.tasks.parcels_expire"} <= funcs


def test_the_scheduled_expiry_task_expires_due_parcels(announce, locker, time_machine):
    parcel = states.ready(announce)
    time_machine.move_to(parcel.pickup_deadline + timedelta(minutes=1))
    async_task("parcels.tasks.parcels_expire", sync=True)  # run by django-q2 in process
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.EXPIRED
