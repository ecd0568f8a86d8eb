"""The store dashboard in headless Chromium (Debian's, driven by Playwright): an
associate logs in on a tablet, imports orders from a spreadsheet, loads one through
the whole workflow including a "door too small", and the manager then sees it in the
KPIs. Screenshots land in test-artifacts/ (gitignored); every page is checked with
axe-core like the recipient pages. A second journey runs with JavaScript turned off.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from lockers.models import LockerCommand
from parcels.models import Parcel, ParcelStatus
from tests.browser_support import assert_accessible, screenshot
from tests.dashboard_fixtures import *  # noqa: F403

pytest_plugins = ["tests.browser_support"]  # the `chromium` fixture
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TABLET = {"width": 820, "height": 1180}
PASSWORD = "correct horse battery"
ORDERS_CSV = (
    "order_number,customer_name,phone,email,size,needs,promised_at\n"
    "NW-501,Cora Customer,+16125550142,cora@example.com,s,ambient,2026-12-01 10:00\n"
    "NW-502,Dan Diner,,dan@example.com,m,ambient,2026-12-01 12:00\n"
    "NW-503,No Contact,,,s,ambient,\n"
)


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=TABLET, has_touch=True)
    yield context.new_page()
    context.close()


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/store/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()


def test_an_associate_imports_and_loads_an_order_and_the_manager_sees_it_in_the_kpis(
    page, live_server, associate, manager, store_a, store_b
):
    base = live_server.url
    log_in(page, base, associate.email)
    assert page.get_by_role("heading", name=store_a.name).is_visible()
    assert_accessible(page, "store overview")

    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "orders.csv", "mimeType": "text/csv", "buffer": ORDERS_CSV.encode()}]
    )
    page.get_by_role("button", name="Import").click()
    report = page.get_by_test_id("import-report")
    assert "2 orders added, 1 row rejected" in report.inner_text()
    assert "phone or email" in page.get_by_test_id("import-error").inner_text()
    screenshot(page, "dashboard-import-report")
    assert_accessible(page, "import report")

    page.get_by_role("link", name="Orders").click()
    page.get_by_role("button", name="Load NW-501").click()
    first_door = page.get_by_test_id("door").locator(".label").inner_text()
    screenshot(page, "dashboard-load-door")
    assert_accessible(page, "load page")

    page.get_by_role("button", name="Door too small").click()
    second_door = page.get_by_test_id("door").locator(".label").inner_text()
    assert second_door != first_door
    assert page.get_by_text(f"Use door {second_door} instead.").is_visible()
    page.get_by_role("button", name=f"Open door {second_door}").click()
    assert page.get_by_text(f"Door {second_door} is asked to open.").is_visible()
    screenshot(page, "dashboard-load-other-door")
    page.get_by_role("button", name="Door closed: order is in").click()
    assert page.get_by_text("Order NW-501 is loaded; the customer is told.").is_visible()
    assert page.locator("#in-locker").locator("xpath=..").get_by_text("NW-501").is_visible()
    screenshot(page, "dashboard-after-loading")

    order = Parcel.objects.select_related("compartment").get(tracking_number="NW-501")
    assert order.status == ParcelStatus.READY_FOR_PICKUP and order.compartment.label == second_door
    assert LockerCommand.objects.get().compartment_id == order.compartment_id

    page.get_by_role("button", name="Log out").click()
    log_in(page, base, manager.email)
    assert page.get_by_role("link", name=store_b.name).is_visible()  # a manager sees every store
    page.get_by_role("link", name=store_a.name).click()
    page.get_by_role("link", name="KPIs").click()
    today = timezone.now().astimezone(store_a.tz).date().isoformat()
    row = page.get_by_test_id(f"kpi-{today}").inner_text().split("\t")
    assert row[1] == "1"  # loaded today
    assert page.locator("svg.chart").count() == 3
    assert page.get_by_role("link", name=re.compile("Partner portal")).is_visible()
    screenshot(page, "dashboard-kpis-manager")
    assert_accessible(page, "KPI page")

    page.get_by_role("link", name="Staff").click()
    assert page.get_by_test_id(f"store-{store_a.code}").is_visible()
    assert page.get_by_test_id(f"member-{associate.email}").is_visible()
    screenshot(page, "dashboard-retailer-staff")
    assert_accessible(page, "retailer page")


@pytest.fixture
def page_without_js(chromium):
    context = chromium.new_context(viewport=TABLET, has_touch=True, java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_loading_works_with_javascript_off(page_without_js, live_server, associate, make_order, store_a):
    page = page_without_js
    make_order(store_a, number="NW-NOJS", size="s")
    log_in(page, live_server.url, associate.email)

    page.get_by_role("button", name="Load NW-NOJS").click()
    page.get_by_role("button", name="Door broken").click()
    door = page.get_by_test_id("door").locator(".label").inner_text()
    page.get_by_role("button", name="Door closed: order is in").click()

    assert page.get_by_text("Order NW-NOJS is loaded; the customer is told.").is_visible()
    order = Parcel.objects.select_related("compartment").get(tracking_number="NW-NOJS")
    assert order.status == ParcelStatus.READY_FOR_PICKUP and order.compartment.label == door
