"""The operator console: list pages with a bounded number of queries, totals, actions, filters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import AbstractUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from carriers.models import CourierCredential, PartnerEvent, PartnerMember, WebhookDelivery, WebhookEndpoint
from carriers.services import courier_pin_matches
from lockers.models import Compartment, Locker, Site
from parcels.models import Parcel, ParcelStatus
from tests.factories import (
    CompartmentFactory,
    LockerFactory,
    PartnerFactory,
    SiteFactory,
    SizeClassFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator() -> AbstractUser:
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def console(client: Client, operator: AbstractUser) -> Client:
    client.force_login(operator)
    return client


def make_site_rows(n: int) -> None:
    for _ in range(n):
        locker = LockerFactory()
        CompartmentFactory(locker=locker, size_class=SizeClassFactory(code="S"))
        CompartmentFactory(locker=locker, size_class=SizeClassFactory(code="M"))


def make_locker_rows(n: int) -> None:
    site = SiteFactory()
    for _ in range(n):
        CompartmentFactory(locker=LockerFactory(site=site))


def make_compartment_rows(n: int) -> None:
    CompartmentFactory.create_batch(n, locker=LockerFactory())


def make_partner_rows(n: int) -> None:
    for _ in range(n):
        partner = PartnerFactory()
        PartnerMember.objects.create(partner=partner, user=UserFactory(), role=PartnerMember.Role.ADMIN)
        partner.stores.add(SiteFactory())


def make_webhook_delivery_rows(n: int) -> None:
    for _ in range(n):
        partner = PartnerFactory()
        endpoint = WebhookEndpoint.objects.create(partner=partner, url="https://hooks.example.com/", secret="s")
        event = PartnerEvent.objects.create(
            id=uuid.uuid4(), partner=partner, type="parcel.announced", occurred_at=timezone.now(), payload={}
        )
        WebhookDelivery.objects.create(event=event, endpoint=endpoint)


def make_parcel_rows(n: int) -> None:
    """Parcels ready in a door each (every column of the list filled), written straight to the table."""
    partner = PartnerFactory()
    for _ in range(n):
        door = CompartmentFactory()
        number = uuid.uuid4().hex
        Parcel.objects.create(
            partner=partner, site=door.locker.site, compartment=door, status=ParcelStatus.READY_FOR_PICKUP,
            tracking_number=number, recipient_name="Robin Tester", page_seed=number, page_token_hash=number,
            pickup_deadline=timezone.now() + timedelta(days=3),
        )


def queries_to_load(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("model", "make_rows"),
    [
        ("lockers_site", make_site_rows),
        ("lockers_locker", make_locker_rows),
        ("lockers_compartment", make_compartment_rows),
        ("carriers_partner", make_partner_rows),
        ("carriers_webhookdelivery", make_webhook_delivery_rows),
        ("parcels_parcel", make_parcel_rows),
        ("parcels_parcel?status__exact=ready_for_pickup", make_parcel_rows),
    ],
)
def test_a_list_page_costs_as_many_queries_for_50_rows_as_for_1(
    console: Client, model: str, make_rows: Callable[[int], None]
) -> None:
    model, _, query = model.partition("?")
    url = reverse(f"admin:{model}_changelist") + (f"?{query}" if query else "")
    make_rows(1)
    queries_to_load(console, url)  # warm the per-process caches (content types, sessions)
    with_one = queries_to_load(console, url)

    make_rows(49)
    with_fifty = queries_to_load(console, url)

    assert with_fifty == with_one
    assert len(console.get(url).context["cl"].result_list) == 50


@pytest.mark.parametrize(
    ("model", "make_rows"),
    [
        ("lockers_site", make_site_rows),
        ("lockers_locker", make_locker_rows),
        ("lockers_compartment", make_compartment_rows),
        ("parcels_parcel", make_parcel_rows),
    ],
)
def test_a_big_list_shows_50_rows_a_page(console: Client, model: str, make_rows: Callable[[int], None]) -> None:
    make_rows(51)
    url = reverse(f"admin:{model}_changelist")

    first, second = console.get(url).context["cl"], console.get(f"{url}?p=2").context["cl"]

    assert (len(first.result_list), len(second.result_list)) == (50, 1)


def test_change_pages_cost_as_many_queries_for_30_inline_rows_as_for_1(console: Client) -> None:
    locker = LockerFactory()
    CompartmentFactory(locker=locker)
    LockerFactory(site=locker.site)
    locker_url = reverse("admin:lockers_locker_change", args=[locker.pk])
    site_url = reverse("admin:lockers_site_change", args=[locker.site_id])
    for url in (locker_url, site_url):
        queries_to_load(console, url)  # warm the per-process caches
    with_one = (queries_to_load(console, locker_url), queries_to_load(console, site_url))

    CompartmentFactory.create_batch(29, locker=locker)
    LockerFactory.create_batch(29, site=locker.site)

    assert (queries_to_load(console, locker_url), queries_to_load(console, site_url)) == with_one


def test_the_site_list_shows_doors_free_doors_by_size_and_a_map_link(console: Client) -> None:
    locker = LockerFactory(site__name="Nicollet Mall Lockers")
    CompartmentFactory.create_batch(2, locker=locker, size_class=SizeClassFactory(code="S", inner_height_mm=80))
    CompartmentFactory(locker=locker, size_class=SizeClassFactory(code="L"), condition=Compartment.Condition.BROKEN)

    page = console.get(reverse("admin:lockers_site_changelist")).content.decode()

    assert "S 2 · L 0" in page
    assert locker.site.map_url.replace("&", "&amp;") in page


def test_list_rows_carry_the_same_action_checkbox_as_djangos_widget(console: Client) -> None:
    site = SiteFactory(name='Lake & "Hennepin" <Uptown>')
    stock = admin.ModelAdmin(Site, admin.site)

    page = console.get(reverse("admin:lockers_site_changelist")).content.decode()

    assert stock.action_checkbox(site) in page
    assert admin.site._registry[Site].action_checkbox(site) == stock.action_checkbox(site)


def test_rows_of_a_filtered_list_link_to_their_change_page_keeping_the_filters(console: Client) -> None:
    make_parcel_rows(1)
    parcel = Parcel.objects.get()
    change = reverse("admin:parcels_parcel_change", args=[parcel.pk])
    url = reverse("admin:parcels_parcel_changelist")

    filtered = console.get(f"{url}?kind__exact=delivery&status__exact=ready_for_pickup").content.decode()
    unfiltered = console.get(url).content.decode()

    kept = "_changelist_filters=kind__exact%3Ddelivery%26status__exact%3Dready_for_pickup"
    assert f'<a href="{change}?{kept}">' in filtered
    assert f'<a href="{change}">' in unfiltered


def test_the_index_shows_network_totals(console: Client) -> None:
    CompartmentFactory.create_batch(3, size_class=SizeClassFactory(code="S"), locker=LockerFactory())

    response = console.get(reverse("admin:index"))

    page = response.content.decode()
    assert "Network now" in page
    assert '<th scope="row">Free S</th><td>3</td>' in page
    assert '<th scope="row">Lockers offline</th>' in page


def test_maintenance_actions_take_doors_out_of_service_and_back(console: Client) -> None:
    doors = CompartmentFactory.create_batch(2, locker=LockerFactory())
    url = reverse("admin:lockers_compartment_changelist")
    selected = [door.pk for door in doors]

    console.post(url, {"action": "mark_out_of_service", "_selected_action": selected})
    assert set(Compartment.objects.values_list("condition", flat=True)) == {"out_of_service"}

    console.post(url, {"action": "mark_ok", "_selected_action": selected[:1]})
    assert dict(Compartment.objects.values_list("pk", "condition")) == {
        selected[0]: "ok",
        selected[1]: "out_of_service",
    }


def test_the_layout_form_creates_a_lockers_compartments(console: Client) -> None:
    SizeClassFactory(code="S")
    SizeClassFactory(code="M")
    locker = LockerFactory()
    url = reverse("admin:lockers_locker_lay_out", args=[locker.pk])

    assert console.get(url).status_code == 200
    response = console.post(url, {"layout": "S S M\nchilled: M M"})

    assert response.status_code == 302
    assert locker.compartments.count() == 5
    assert locker.compartments.filter(temperature_zone="chilled").count() == 2


def test_the_layout_form_shows_a_layout_error_and_creates_nothing(console: Client) -> None:
    SizeClassFactory(code="S")
    locker = LockerFactory()

    response = console.post(reverse("admin:lockers_locker_lay_out", args=[locker.pk]), {"layout": "S Q"}, follow=True)

    assert [str(message) for message in response.context["messages"]] == ["Unknown size class q; known: s."]
    assert not locker.compartments.exists()


def test_the_layout_action_leads_to_the_form_for_one_locker(console: Client) -> None:
    locker = LockerFactory()

    response = console.post(
        reverse("admin:lockers_locker_changelist"),
        {"action": "lay_out_compartments", "_selected_action": [locker.pk]},
    )

    assert response.url == reverse("admin:lockers_locker_lay_out", args=[locker.pk])


def test_the_online_filter_splits_lockers_by_heartbeat(console: Client) -> None:
    online = LockerFactory(last_heartbeat_at=timezone.now())
    stale = LockerFactory(last_heartbeat_at=timezone.now() - settings.LOCKER_OFFLINE_AFTER - timedelta(minutes=1))
    never = LockerFactory(last_heartbeat_at=None)
    LockerFactory(last_heartbeat_at=None, status=Locker.Status.DECOMMISSIONED)
    url = reverse("admin:lockers_locker_changelist")

    def shown(query: str) -> set[int]:
        return {locker.pk for locker in console.get(f"{url}?{query}").context["cl"].result_list}

    assert shown("online=yes") == {online.pk}
    assert shown("online=no") == {stale.pk, never.pk}


def test_sites_filter_by_city_kind_and_status(console: Client) -> None:
    saint_paul = SiteFactory(city="Saint Paul", kind="retail_store")
    SiteFactory(city="Minneapolis", kind="retail_store")
    SiteFactory(city="Saint Paul", status="maintenance")
    url = reverse("admin:lockers_site_changelist")

    result = console.get(f"{url}?city=Saint+Paul&kind__exact=retail_store&status__exact=active").context["cl"]

    assert list(result.result_list) == [saint_paul]


def test_a_courier_credential_added_in_the_admin_keeps_only_a_keyed_hash_of_the_pin(console: Client) -> None:
    partner = PartnerFactory()

    response = console.post(
        reverse("admin:carriers_couriercredential_add"),
        {"partner": partner.pk, "courier_name": "Dana", "badge_number": "NSP-1", "pin": "482913", "is_active": "on"},
    )

    assert response.status_code == 302
    credential = CourierCredential.objects.get()
    assert "482913" not in credential.pin_hash
    assert courier_pin_matches(credential=credential, pin="482913")


def test_a_courier_credential_needs_a_pin_of_digits(console: Client) -> None:
    response = console.post(
        reverse("admin:carriers_couriercredential_add"),
        {"partner": PartnerFactory().pk, "courier_name": "Dana", "badge_number": "NSP-1", "pin": "12ab"},
    )

    assert response.status_code == 200
    assert "4 to 8 digits" in response.content.decode()
    assert not CourierCredential.objects.exists()


def test_changing_a_credential_with_a_new_pin_replaces_the_hash(console: Client) -> None:
    console.post(
        reverse("admin:carriers_couriercredential_add"),
        {"partner": PartnerFactory().pk, "courier_name": "Dana", "badge_number": "NSP-1", "pin": "482913"},
    )
    credential = CourierCredential.objects.get()

    console.post(
        reverse("admin:carriers_couriercredential_change", args=[credential.pk]),
        {"partner": credential.partner_id, "courier_name": "Dana W.", "pin": "777123"},
    )

    credential.refresh_from_db()
    assert credential.courier_name == "Dana W."
    assert courier_pin_matches(credential=credential, pin="777123")
    assert not courier_pin_matches(credential=credential, pin="482913")


def test_saving_a_locker_keeps_what_the_device_wrote_while_the_form_was_open(console: Client) -> None:
    locker = LockerFactory(name="A")
    url = reverse("admin:lockers_locker_change", args=[locker.pk])
    form = console.get(url).context["adminform"].form
    data = {name: form[name].value() for name in ("site", "name", "serial_number", "hardware_model", "status")}
    # A heartbeat and an event batch land while the operator edits the name.
    Locker.objects.filter(pk=locker.pk).update(last_event_sequence=50, last_report={"doors_open": ["A1"]},
                                               last_heartbeat_at=timezone.now())
    inline = {"compartments-TOTAL_FORMS": "0", "compartments-INITIAL_FORMS": "0"}

    response = console.post(url, {**data, **inline, "name": "B"})

    assert response.status_code == 302
    saved = Locker.objects.get(pk=locker.pk)
    assert (saved.name, saved.last_event_sequence, saved.last_report) == ("B", 50, {"doors_open": ["A1"]})
    assert saved.last_heartbeat_at is not None
    assert "doors_open" in console.get(url).content.decode()  # the report is shown to the operator
