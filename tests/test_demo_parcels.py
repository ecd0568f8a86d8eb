from io import StringIO

from django.core.management import call_command

from parcels.models import Parcel, ParcelEvent, ParcelStatus
from parcels.services import code_secrets


def test_the_demo_has_parcels_in_every_status_with_timelines_and_tryable_codes(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())

    assert set(Parcel.objects.values_list("status", flat=True)) == set(ParcelStatus.values)
    assert Parcel.objects.count() == 10  # the second run added nothing
    for parcel in Parcel.objects.all():
        assert ParcelEvent.objects.filter(parcel=parcel).last().to_status == parcel.status
    waiting = Parcel.objects.filter(status=ParcelStatus.READY_FOR_PICKUP).select_related("pickup_code")
    for parcel in waiting:
        pin, _ = code_secrets(parcel.pickup_code)
        assert f"code {pin}" in out.getvalue()
