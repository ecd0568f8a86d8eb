"""Who sees which store: associates their stores, managers all the retailer's, others nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def test_an_associate_sees_orders_of_their_store(client_of, associate, store_a, make_order, store_url):
    order = make_order(store_a, number="NW-A-1")

    page = client_of(associate).get(store_url("home", store_a))

    assert page.status_code == 200
    assert "NW-A-1" in page.content.decode()
    assert client_of(associate).get(store_url("order-detail", store_a, order_id=order.pk)).status_code == 200


def test_an_associate_of_store_a_gets_404_for_store_b_and_its_orders(
    client_of, associate, store_a, store_b, make_order, store_url
):
    order_b = make_order(store_b, number="NW-B-1")
    client = client_of(associate)

    assert client.get(store_url("home", store_b)).status_code == 404
    assert client.get(store_url("order-detail", store_b, order_id=order_b.pk)).status_code == 404
    # Nor through store A's address: an order is only found at its own store.
    assert client.get(store_url("order-detail", store_a, order_id=order_b.pk)).status_code == 404
    assert client.post(store_url("order-load", store_a, order_id=order_b.pk)).status_code == 404
    assert client.post(store_url("order-extend", store_a, order_id=order_b.pk)).status_code == 404


def test_a_manager_sees_every_store_of_the_retailer(client_of, manager, store_a, store_b, make_order, store_url):
    make_order(store_a, number="NW-A-1")
    make_order(store_b, number="NW-B-1")
    client = client_of(manager)

    index = client.get(reverse("dashboard:index"))

    assert store_a.name in index.content.decode() and store_b.name in index.content.decode()
    assert "NW-B-1" in client.get(store_url("home", store_b)).content.decode()
    assert client.get(store_url("kpis", store_a)).status_code == 200


def test_another_retailers_staff_sees_nothing_of_ours_even_at_a_shared_store(
    client_of, other_manager, other_retailer, store_a, make_order, store_url
):
    order = make_order(store_a, number="NW-SECRET-1")
    client = client_of(other_manager)

    assert client.get(store_url("home", store_a)).status_code == 404
    assert client.get(store_url("order-detail", store_a, order_id=order.pk)).status_code == 404
    own = client.get(reverse("dashboard:home", kwargs={"partner": other_retailer.slug, "site": store_a.code}))
    assert own.status_code == 200
    assert "NW-SECRET-1" not in own.content.decode()
    search = client.get(
        reverse("dashboard:search", kwargs={"partner": other_retailer.slug, "site": store_a.code}), {"q": "NW-SECRET"}
    )
    assert "NW-SECRET-1" not in search.content.decode()
    orders = client.get(
        reverse("dashboard:order-detail", kwargs={"partner": other_retailer.slug, "site": store_a.code,
                                                  "order_id": order.pk})
    )
    assert orders.status_code == 404


def test_people_who_are_not_store_staff_get_404_and_strangers_must_log_in(
    client, client_of, staff_user, retailer, carrier, store_a, store_url
):
    assert client.get(store_url("home", store_a)).status_code == 302  # to the login page
    dispatcher = staff_user(carrier, "dispatcher", email="dan@northstar.example")
    partner_admin_of_a_carrier = client_of(dispatcher)

    assert partner_admin_of_a_carrier.get(store_url("home", store_a)).status_code == 404
    assert partner_admin_of_a_carrier.get(reverse("dashboard:index")).status_code == 404


def test_an_associate_listed_at_a_store_the_retailer_no_longer_runs_sees_nothing_there(
    client_of, associate, retailer, store_a, store_url
):
    retailer.stores.remove(store_a)

    assert client_of(associate).get(store_url("home", store_a)).status_code == 404
