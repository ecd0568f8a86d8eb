"""Retail managers manage their store associates; nobody else can."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.urls import reverse

from carriers.models import PartnerMember
from lockers.models import Site
from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


def url(name: str, partner, **kwargs) -> str:
    return reverse(f"dashboard:{name}", kwargs={"partner": partner.slug, **kwargs})


@pytest.fixture
def newcomer(db):
    user = get_user_model().objects.create_user(username="nia", email="nia@example.com", password="x")
    EmailAddress.objects.create(user=user, email="nia@example.com", verified=True, primary=True)
    return user


def test_a_manager_adds_an_associate_who_then_sees_only_that_store(
    client, client_of, manager, newcomer, retailer, store_a, store_b, store_url
):
    manager_client = client_of(manager)
    assert manager_client.get(url("retailer", retailer)).status_code == 200

    manager_client.post(url("associate-add", retailer), {"email": "NIA@example.com", "stores": [store_b.pk]})

    member = PartnerMember.objects.get(user=newcomer)
    assert member.role == "store_associate" and list(member.stores.all()) == [store_b]
    client.force_login(newcomer)
    assert client.get(store_url("home", store_b)).status_code == 200
    assert client.get(store_url("home", store_a)).status_code == 404


def test_a_manager_changes_an_associates_stores_and_removes_them(
    client_of, manager, associate, retailer, store_a, store_b
):
    member = PartnerMember.objects.get(user=associate)
    manager_client = client_of(manager)

    manager_client.post(url("associate-stores", retailer, member_id=member.pk), {f"m{member.pk}-stores": [store_b.pk]})
    assert list(member.stores.all()) == [store_b]

    manager_client.post(url("associate-remove", retailer, member_id=member.pk))
    assert not PartnerMember.objects.filter(pk=member.pk).exists()


def test_an_unknown_or_unverified_email_or_a_second_membership_is_refused(
    client_of, manager, associate, retailer, staff_user
):
    EmailAddress.objects.filter(email="sam.associate@northwind.example").update(verified=True)
    manager_client = client_of(manager)

    unknown = manager_client.post(url("associate-add", retailer), {"email": "nobody@example.com"})
    again = manager_client.post(url("associate-add", retailer), {"email": "sam.associate@northwind.example"})

    assert "ask them to sign up first" in unknown.content.decode()
    assert "already on Northwind Market" in again.content.decode()
    assert PartnerMember.objects.filter(partner=retailer).count() == 2


def test_associates_and_other_retailers_cannot_manage_staff(
    client_of, associate, other_manager, manager, retailer, newcomer, store_a
):
    member = PartnerMember.objects.get(user=associate)
    for outsider in (associate, other_manager):
        client = client_of(outsider)
        assert client.get(url("retailer", retailer)).status_code == 404
        assert client.post(url("associate-add", retailer), {"email": "nia@example.com"}).status_code == 404
        assert client.post(url("associate-remove", retailer, member_id=member.pk)).status_code == 404
    assert PartnerMember.objects.filter(pk=member.pk).exists()
    assert not PartnerMember.objects.filter(user=newcomer).exists()


def test_a_manager_cannot_remove_another_manager_or_give_a_store_the_retailer_does_not_run(
    client_of, manager, staff_user, retailer, associate
):
    second = staff_user(retailer, "retail_manager", email="mo.manager@northwind.example")
    second_member = PartnerMember.objects.get(user=second)
    member = PartnerMember.objects.get(user=associate)
    foreign = Site.objects.create(code="elsewhere", name="Elsewhere", address_line="1 A St", city="X",
                                  postal_code="1", latitude="1", longitude="1")
    manager_client = client_of(manager)

    removed = manager_client.post(url("associate-remove", retailer, member_id=second_member.pk), follow=True)
    manager_client.post(url("associate-stores", retailer, member_id=member.pk), {f"m{member.pk}-stores": [foreign.pk]})

    assert "No such store associate" in removed.content.decode()
    assert PartnerMember.objects.filter(pk=second_member.pk).exists()
    assert foreign not in member.stores.all()


def test_the_retailer_page_counts_each_stores_orders(client_of, manager, retailer, store_a, store_b, make_order):
    make_order(store_a)
    make_order(store_a)
    make_order(store_b)

    page = client_of(manager).get(url("retailer", retailer))

    rows = dict(page.context["stores"])
    assert (rows[store_a].to_load, rows[store_b].to_load) == (2, 1)


def test_the_retailer_page_reads_as_many_queries_with_11_members_as_with_1(
    client_of, manager, retailer, staff_user, store_a, store_b
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    manager_client = client_of(manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get(url("retailer", retailer)).status_code == 200
        return len(captured)

    queries()  # warm the per-process caches
    with_one = queries()
    for n in range(10):
        staff_user(retailer, "store_associate", [store_a, store_b][: n % 3], email=f"a{n}@example.com")
    assert queries() == with_one
