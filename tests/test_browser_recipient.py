"""The recipient's journeys in headless Chromium (Debian's, driven by Playwright):
from the link in a delivered SMS to the code and a scannable QR, extend, change site,
report a problem; sign up, verify the email, see one's parcels. Every page is checked
with axe-core for serious or critical accessibility violations.

Phone-size screenshots land in test-artifacts/ (gitignored) for people to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core import mail

from lockers.models import Site
from notifications.tasks import notifications_send_due
from parcels.models import Parcel, ParcelStatus, SupportCase
from parcels.services import Recipient, code_secrets, page_token
from tests import parcel_states
from tests.browser_support import assert_accessible, screenshot

pytest_plugins = ["tests.browser_support"]  # the `chromium` fixture
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """allauth counts sign-ups and confirmation emails per address in the cache; start each test clean."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def sms_file(settings, tmp_path) -> Path:
    settings.SMS_BACKEND = "notifications.channels.FileSms"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    return tmp_path / "sms.jsonl"


@pytest.fixture
def site_url(settings, live_server) -> str:
    settings.SITE_URL = live_server.url
    return live_server.url


def decode_qr(png: bytes) -> str:
    import io

    import zxingcpp
    from PIL import Image

    (result,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return result.text


def link_from_sms(sms_file: Path) -> str:
    (line,) = sms_file.read_text().splitlines()
    return re.search(r"https?://\S+/p/\S+/", json.loads(line)["text"]).group(0)


def test_from_the_sms_link_to_code_qr_extend_and_problem_report(page, announce, locker, sms_file, site_url):
    parcel = parcel_states.ready(announce, recipient=Recipient(name="Ada", phone="+16125550100"))
    pin, qr_token = code_secrets(parcel.pickup_code)
    assert notifications_send_due() == 1

    page.goto(link_from_sms(sms_file))

    assert page.get_by_test_id("pin").inner_text() == pin
    qr = page.locator("svg.qr")
    box = qr.bounding_box()
    assert box["width"] >= 250  # CSS pixels: big enough to scan from a phone held to the reader
    assert decode_qr(qr.screenshot()) == qr_token
    screenshot(page, "pickup-page-phone")
    assert_accessible(page, "pickup page")

    page.get_by_role("button", name="Give me more time").click()
    assert page.get_by_text("you have more time").is_visible()
    assert Parcel.objects.get(pk=parcel.pk).extensions_used == 1

    page.get_by_label("The door did not open").check()
    page.get_by_label("Tell us more (optional)").fill("Door B2 stayed shut")
    page.get_by_role("button", name="Send report").click()
    assert page.get_by_text("we have your report").is_visible()
    assert SupportCase.objects.get().message == "Door B2 stayed shut"
    screenshot(page, "pickup-page-after-actions-phone")
    assert_accessible(page, "pickup page after actions")


def test_change_site_before_deposit(page, announce, locker, make_locker, site_url):
    nearby = Site.objects.create(
        code="stevens-square", name="Stevens Square Lockers", address_line="1801 3rd Ave S", city="Minneapolis",
        postal_code="55404", latitude="44.965000", longitude="-93.273000",
    )
    make_locker("s m l", at=nearby)
    parcel = parcel_states.reserved(announce)

    page.goto(f"{site_url}/p/{page_token(parcel)}/")
    assert page.get_by_role("heading", name="Pick up somewhere else").is_visible()
    page.get_by_label(re.compile("Stevens Square Lockers")).check()
    page.get_by_role("button", name="Send my parcel there").click()

    assert page.get_by_text("now goes to Stevens Square Lockers").is_visible()
    parcel.refresh_from_db()
    assert parcel.site == nearby and parcel.status == ParcelStatus.RESERVED
    screenshot(page, "pickup-page-changed-site-phone")


def test_a_cancelled_parcels_link_shows_a_clear_message(page, announce, site_url):
    from parcels.services import parcel_cancel

    parcel = parcel_cancel(parcel_id=announce().pk, who=parcel_states.COURIER)

    response = page.goto(f"{site_url}/p/{page_token(parcel)}/")

    assert response.status == 410
    assert page.get_by_role("heading", name="This parcel link no longer works").is_visible()
    assert_accessible(page, "closed link page")


def test_sign_up_verify_email_and_see_ones_parcels(page, announce, locker, site_url):
    parcel = parcel_states.ready(announce)
    password = "a long pass phrase 42"

    page.goto(f"{site_url}/accounts/login/")
    assert_accessible(page, "login page")
    page.goto(f"{site_url}/accounts/signup/")
    assert_accessible(page, "sign-up page")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password:", exact=True).fill(password)
    page.get_by_label("Password (again):").fill(password)
    page.get_by_role("button", name=re.compile("Sign Up", re.I)).click()

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    assert_accessible(page, "confirm-email page")
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
    if "/accounts/login/" in page.url:
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name=re.compile("Sign In", re.I)).click()

    page.goto(f"{site_url}/accounts/parcels/")
    assert page.get_by_role("link", name=re.compile(parcel.tracking_number)).is_visible()
    screenshot(page, "my-parcels-phone")
    assert_accessible(page, "my parcels page")
    for path, label in (("preferences", "preferences page"), ("phone", "phone page"), ("2fa", "two-factor page")):
        page.goto(f"{site_url}/accounts/{path}/")
        assert_accessible(page, label)
