"""Admin filters whose choices come from small tables still filter the big lists correctly."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from lockers.models import Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "x"))
    return client


def test_the_parcel_list_filters_by_the_city_of_the_site(console, announce, sizes):
    elsewhere = Site.objects.create(code="duluth", name="Duluth Lockers", address_line="1 Lake Ave", city="Duluth",
                                    postal_code="55802", latitude="46.7867", longitude="-92.1005")
    here = announce()
    there = announce(site=elsewhere)

    page = console.get("/admin/parcels/parcel/", {"site__city": "Duluth"})

    assert [parcel.pk for parcel in page.context["cl"].result_list] == [there.pk]
    assert here.pk not in [parcel.pk for parcel in page.context["cl"].result_list]
    assert "Minneapolis" in page.content.decode()  # offered as a choice, from the sites table


def test_the_event_list_filters_by_a_lifecycle_event_type(console, announce):
    announce()

    page = console.get("/admin/parcels/parcelevent/", {"type": "announced"})
    none = console.get("/admin/parcels/parcelevent/", {"type": "pick_up"})

    assert [event.type for event in page.context["cl"].result_list] == ["announced"]
    assert list(none.context["cl"].result_list) == []
