"""Checkout widget: the page and the keyless, read-only site search it uses."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from lockers.models import Compartment, Site
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


@pytest.fixture
def neighbours(site, make_locker):
    make_locker("s m l")
    nearby = Site.objects.create(code="nicollet", name="Nicollet Mall Lockers", address_line="900 Nicollet Mall",
                                 city="Minneapolis", postal_code="55402", latitude="44.975000", longitude="-93.272000")
    make_locker("l", at=nearby)
    Site.objects.create(code="duluth", name="Duluth Canal Park", address_line="1 Canal Park Dr", city="Duluth",
                        postal_code="55802", latitude="46.781000", longitude="-92.093000")
    return nearby


def test_a_postal_code_finds_its_site_and_the_ones_around_it(neighbours, site):
    response = APIClient().get("/api/v1/public/sites/", {"q": "55403"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["code"] for r in results] == [site.code, "nicollet"]
    assert results[0]["address"] == "1382 Willow St, 55403 Minneapolis"
    assert results[0]["distance_km"] == 0
    assert set(results[0]) == {"id", "code", "name", "address", "latitude", "longitude", "always_open",
                               "free_by_size", "distance_km"}


def test_address_text_and_size_filter(neighbours, site):
    client = APIClient()

    def codes(**query):
        return [r["code"] for r in client.get("/api/v1/public/sites/", query).json()["results"]]

    assert codes(q="nicollet")[0] == "nicollet"
    assert codes(q="duluth") == ["duluth"]
    Compartment.objects.filter(locker__site=site, size_class__code="l").update(condition="broken")
    assert codes(q="55403", size="l") == ["nicollet"]


@pytest.mark.parametrize("query", [{}, {"q": "x"}, {"q": "a" * 81}, {"q": "55403", "radius_km": "-1"}])
def test_bad_searches_are_400(query, sizes):
    assert APIClient().get("/api/v1/public/sites/", query).status_code == 400


@override_settings(PUBLIC_API_RATE="2/min")
def test_the_public_search_is_throttled_per_address(sizes):
    client = APIClient()
    for _ in range(2):
        assert client.get("/api/v1/public/sites/", {"q": "55403"}).status_code == 200
    response = client.get("/api/v1/public/sites/", {"q": "55403"})
    assert response.status_code == 429
    assert "Retry-After" in response
    other = APIClient(REMOTE_ADDR="10.0.0.9")
    assert other.get("/api/v1/public/sites/", {"q": "55403"}).status_code == 200


def test_the_widget_page_may_be_framed_and_holds_no_secret(client, sizes):
    response = client.get("/widget/", {"origin": "https://shop.example.com", "return_url": "javascript:alert(1)"})
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    page = response.content.decode()
    assert 'data-origin="https://shop.example.com"' in page
    assert 'data-return-url=""' in page
    assert "widget/picker.js" in page
    assert "olk_" not in page


def test_without_javascript_the_page_lists_sites_with_links_back(client, neighbours, site):
    response = client.get("/widget/", {"q": "55403", "origin": "https://shop.example.com",
                                       "return_url": "https://shop.example.com/checkout?step=2"})
    page = response.content.decode()
    assert site.name in page
    assert f"https://shop.example.com/checkout?step=2&amp;site_id={site.pk}" in page


def test_a_bad_origin_is_ignored(client, sizes):
    page = client.get("/widget/", {"origin": "https://shop.example.com/path"}).content.decode()
    assert 'data-origin=""' in page


@pytest.mark.parametrize(("origin", "return_url"), [
    ("", "https://shop.example.com/checkout"),  # no origin to match
    ("https://shop.example.com", "https://evil.example/phish"),  # another host
    ("https://shop.example.com", "https://shop.example.com.evil.example/x"),
    ("https://shop.example.com", "https://shop.example.com:8443/checkout"),  # another port
    ("http://shop.example.com", "http://shop.example.com/checkout"),  # plain http off localhost
    ("https://shop.example.com", "http://shop.example.com/checkout"),  # scheme differs
])
def test_a_return_url_off_the_shops_https_origin_is_ignored(client, neighbours, site, origin, return_url):
    """Else the picker is an open redirect: a link could send shoppers anywhere."""
    page = client.get("/widget/", {"q": "55403", "origin": origin, "return_url": return_url}).content.decode()
    assert site.name in page
    assert 'data-return-url=""' in page
    assert "site_id=" not in page
    assert "The return link was ignored" in page


@pytest.mark.parametrize(("origin", "return_url"), [
    ("https://shop.example.com", "https://SHOP.example.com:443/checkout"),
    ("http://localhost:8001", "http://localhost:8001/checkout"),
    ("http://127.0.0.1:8001", "http://127.0.0.1:8001/checkout"),
])
def test_a_return_url_on_the_shops_origin_is_kept(client, neighbours, site, origin, return_url):
    page = client.get("/widget/", {"q": "55403", "origin": origin, "return_url": return_url}).content.decode()
    assert f"{return_url}?site_id={site.pk}" in page
    assert "The return link was ignored" not in page
