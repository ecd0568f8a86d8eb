"""The checkout widget in headless Chromium: a shop page opens it, the shopper searches
and chooses, and the shop page receives the chosen site through postMessage.

This module is also the URLconf of its live server: the project's URLs plus the
shop's page, served from the same test server.
"""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from lockers.models import Site
from tests.conftest import CHROMIUM

SHOP_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Shop checkout</title></head><body>
<button id="open" type="button">Pick a locker</button>
<output id="chosen"></output>
<script>
document.getElementById("open").addEventListener("click", function () {
  window.open("/widget/?origin=" + encodeURIComponent(location.origin), "picker", "width=480,height=640");
});
window.addEventListener("message", function (event) {
  if (event.origin !== location.origin || !event.data || event.data.type !== "openlockers:site-selected") return;
  document.getElementById("chosen").textContent = event.data.site.id + " " + event.data.site.code;
});
</script></body></html>"""


# The same shop with the picker in an iframe: the choice goes to the parent window.
FRAMED_SHOP_PAGE = SHOP_PAGE.replace(
    '<button id="open" type="button">Pick a locker</button>', '<iframe id="picker" title="Pick a locker"></iframe>'
).replace(
    'document.getElementById("open").addEventListener("click", function () {\n'
    '  window.open("/widget/?origin=" + encodeURIComponent(location.origin), "picker", "width=480,height=640");\n'
    '});',
    'document.getElementById("picker").src = "/widget/?origin=" + encodeURIComponent(location.origin);',
)


def shop_checkout(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FRAMED_SHOP_PAGE if request.GET.get("framed") else SHOP_PAGE)


urlpatterns = [path("shop/checkout/", shop_checkout), path("", include("lockers_site.urls"))]


@pytest.fixture
def chromium(live_server, settings, site, make_locker, monkeypatch):
    """Two sites near Loring Park, the shop page on the live server, and a headless Chromium."""
    make_locker("s m l")
    other = Site.objects.create(code="nicollet", name="Nicollet Mall Lockers", address_line="900 Nicollet Mall",
                                city="Minneapolis", postal_code="55402", latitude="44.975000", longitude="-93.272000")
    make_locker("l", at=other)
    settings.ROOT_URLCONF = __name__
    # Playwright's sync API runs an event loop in this thread; the test touches the
    # database only before it starts.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def _search(picker, site) -> Locator:
    """Search by ZIP code and return the nearest site's Choose button."""
    picker.locator("#q").fill("55403")
    picker.locator("button[type=submit]").click()
    picker.locator("ol.sites li").first.wait_for()
    assert picker.locator("svg.map circle").count() == 2
    first = picker.locator("ol.sites li").first
    assert "Loring Park Lockers" in first.inner_text()
    return first.get_by_role("button", name=f"Choose {site.name}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_shopper_picks_a_locker_in_a_popup_and_the_shop_page_gets_it(chromium, live_server, site):
    page = chromium.new_page()
    page.goto(f"{live_server.url}/shop/checkout/")
    with page.expect_popup() as opened:
        page.click("#open")
    picker = opened.value
    picker.wait_for_load_state()
    choose = _search(picker, site)
    with picker.expect_event("close"):
        try:
            choose.click()
        except PlaywrightError:
            # The picker closes itself once it has posted the choice, and the click can
            # lose that race with Playwright's acknowledgement of it; any other error stands.
            if not picker.is_closed():
                raise
    page.wait_for_function("document.getElementById('chosen').textContent !== ''")
    assert page.locator("#chosen").inner_text() == f"{site.pk} {site.code}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_shopper_picks_a_locker_in_an_iframe_and_the_shop_page_gets_it(chromium, live_server, site):
    page = chromium.new_page()
    page.goto(f"{live_server.url}/shop/checkout/?framed=1")
    _search(page.frame_locator("#picker"), site).click()
    page.wait_for_function("document.getElementById('chosen').textContent !== ''")
    assert page.locator("#chosen").inner_text() == f"{site.pk} {site.code}"
