"""The recipient's pickup page at /p/<token>/ through the test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from lockers.models import Site
from parcels import services
from parcels.models import Parcel, ParcelStatus, SupportCase
from parcels.services import code_secrets, page_token
from tests import parcel_states

pytestmark = pytest.mark.django_db


def url(parcel: Parcel, action: str = "") -> str:
    return f"/p/{page_token(parcel)}/" + (f"{action}/" if action else "")


@pytest.fixture
def other_site(make_locker) -> Site:
    nearby = Site.objects.create(
        code="stevens-square", name="Stevens Square Lockers", address_line="1801 3rd Ave S", city="Minneapolis",
        postal_code="55404", latitude="44.965000", longitude="-93.273000",
    )
    make_locker("s m l", at=nearby)
    return nearby


def test_it_shows_status_code_qr_site_and_the_deadline_in_the_sites_time_zone(client: Client, announce, locker):
    parcel = parcel_states.ready(announce)
    pin, qr_token = code_secrets(parcel.pickup_code)

    response = client.get(url(parcel))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ready for pickup" in page
    assert pin in page
    assert "<svg" in page and 'class="qr"' in page
    assert qr_token not in page  # the QR carries the token as an image, never as readable text
    assert "Loring Park Lockers" in page and "1382 Willow St" in page and "openstreetmap.org" in page
    local = parcel.pickup_deadline.astimezone(parcel.site.tz)
    assert local.strftime("%H:%M") in page and ("CST" in page or "CDT" in page)
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_an_unknown_token_gets_a_clear_404(client: Client, db):
    response = client.get("/p/not-a-real-token-at-all-000000000/")

    assert response.status_code == 404
    assert "does not match any parcel" in response.content.decode()


@pytest.mark.parametrize("make", [parcel_states.expired, "cancelled", "returned"])
def test_closed_parcels_refuse_their_link_and_show_nothing_of_the_parcel(client: Client, announce, locker, make):
    if make == "cancelled":
        parcel = services.parcel_cancel(parcel_id=announce().pk, who=parcel_states.COURIER)
    elif make == "returned":
        parcel = parcel_states.expired(announce)
        parcel = services.parcel_collect(parcel_id=parcel.pk, who=parcel_states.COURIER)
    else:
        parcel = make(announce)

    response = client.get(url(parcel))

    assert response.status_code == 410
    page = response.content.decode()
    assert parcel.tracking_number not in page and "Loring Park" not in page
    assert "no longer works" in page


def test_the_page_never_shows_another_parcels_data(client: Client, announce, locker):
    mine = parcel_states.ready(announce)
    theirs = parcel_states.ready(announce, recipient=services.Recipient(name="Bo Other", phone="+16125550199"))
    their_pin, _ = code_secrets(theirs.pickup_code)

    page = client.get(url(mine)).content.decode()

    assert theirs.tracking_number not in page and their_pin not in page and "Bo Other" not in page


def test_the_recipient_can_extend_once(client: Client, announce, locker):
    parcel = parcel_states.ready(announce)
    before = parcel.pickup_deadline

    response = client.post(url(parcel, "extend"), follow=True)

    parcel.refresh_from_db()
    assert parcel.pickup_deadline == before + timedelta(hours=48)
    assert "more time" in response.content.decode()
    assert "Give me more time" not in response.content.decode()
    client.post(url(parcel, "extend"))
    parcel.refresh_from_db()
    assert parcel.extensions_used == 1
    assert parcel.events.filter(type="extend", actor="recipient").count() == 1


def test_actions_need_a_post_with_csrf(announce, locker):
    parcel = parcel_states.ready(announce)
    strict = Client(enforce_csrf_checks=True)

    assert strict.get(url(parcel, "extend")).status_code == 405
    assert strict.post(url(parcel, "extend")).status_code == 403
    parcel.refresh_from_db()
    assert parcel.extensions_used == 0


def test_before_deposit_the_recipient_can_move_the_parcel_nearby(client: Client, announce, locker, other_site):
    parcel = parcel_states.reserved(announce)

    page = client.get(url(parcel)).content.decode()
    assert "Stevens Square Lockers" in page

    response = client.post(url(parcel, "change-site"), {"site": other_site.pk}, follow=True)

    parcel.refresh_from_db()
    assert parcel.site == other_site and parcel.status == ParcelStatus.RESERVED
    assert parcel.compartment.locker.site == other_site
    assert "now goes to Stevens Square Lockers" in response.content.decode()


def test_a_site_not_offered_is_refused(client: Client, announce, locker, other_site):
    parcel = parcel_states.reserved(announce)
    far = Site.objects.create(code="far", name="Far Away", address_line="1 Main St", city="Duluth",
                              postal_code="55802", latitude="46.786700", longitude="-92.100500")

    response = client.post(url(parcel, "change-site"), {"site": far.pk}, follow=True)

    parcel.refresh_from_db()
    assert parcel.site.code == "loring-park"
    assert "Choose one of the places listed" in response.content.decode()


def test_after_deposit_no_site_change_is_offered(client: Client, announce, locker, other_site):
    parcel = parcel_states.ready(announce)

    assert "Pick up somewhere else" not in client.get(url(parcel)).content.decode()
    client.post(url(parcel, "change-site"), {"site": other_site.pk})
    parcel.refresh_from_db()
    assert parcel.site.code == "loring-park"


def test_reporting_a_problem_opens_a_support_case_and_notes_it_in_the_timeline(client: Client, announce, locker):
    parcel = parcel_states.ready(announce)

    response = client.post(
        url(parcel, "problem"), {"kind": "door_did_not_open", "message": "Door 3 stayed shut", "contact": ""},
        follow=True,
    )

    case = SupportCase.objects.get()
    assert (case.parcel, case.kind, case.message) == (parcel, "door_did_not_open", "Door 3 stayed shut")
    page = response.content.decode()
    assert "we have your report" in page and "You reported a problem" in page


def test_a_report_without_a_kind_shows_the_error_and_opens_nothing(client: Client, announce, locker):
    parcel = parcel_states.ready(announce)

    response = client.post(url(parcel, "problem"), {"message": "?"})

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not SupportCase.objects.exists()


def test_a_picked_up_parcel_shows_its_receipt_without_a_code_and_still_takes_reports(client: Client, announce, locker):
    parcel = parcel_states.picked_up(announce, locker)

    page = client.get(url(parcel)).content.decode()

    assert "Picked up" in page and "pickup code" not in page.lower()
    client.post(url(parcel, "problem"), {"kind": "damaged"})
    assert SupportCase.objects.filter(parcel=parcel, kind="damaged").exists()


def test_the_operator_sees_support_cases_in_the_admin_and_resolves_them(client: Client, announce, locker):
    from tests.factories import UserFactory

    parcel = parcel_states.ready(announce)
    client.post(url(parcel, "problem"), {"kind": "wrong_parcel", "message": "Not mine"})
    case = SupportCase.objects.get()
    client.force_login(UserFactory(username="op", is_staff=True, is_superuser=True))

    listing = client.get("/admin/parcels/supportcase/").content.decode()
    client.post("/admin/parcels/supportcase/", {"action": "resolve", "_selected_action": [case.pk]})

    assert parcel.tracking_number in listing and "It is not my parcel" in listing
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolved_at is not None


def test_the_page_speaks_the_recipients_language(client: Client, announce, locker):
    recipient = services.Recipient(name="Lucía", phone="+16125550111", language="es")
    parcel = parcel_states.ready(announce, recipient=recipient)

    response = client.get(url(parcel))

    page = response.content.decode()
    assert response["Content-Language"] == "es" and '<html lang="es">' in page
    assert "Tu código de recogida" in page and "Listo para recoger" in page and "Dame más tiempo" in page
    response = client.post(url(parcel, "extend"), follow=True)
    assert "tienes más tiempo" in response.content.decode()
