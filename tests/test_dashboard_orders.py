"""Orders in: the create form and the CSV import with its line-by-line error report."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from parcels.models import Parcel, ParcelEvent, ParcelStatus
from tests.dashboard_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db

HEADER = "order_number,customer_name,phone,email,size,length_mm,width_mm,height_mm,weight_g,needs,promised_at\n"


def upload(text: str, name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_the_create_form_announces_a_click_and_collect_order_in_store_time(
    client_of, associate, retailer, store_a, sizes, store_url
):
    answer = client_of(associate).post(store_url("order-new", store_a), {
        "order_number": "NW-777", "customer_name": "Cora Customer", "phone": "(612) 555-0142",
        "email": "", "size": "M", "temperature": "chilled", "promised_at": "2026-12-01T17:00",
    })

    assert answer.status_code == 302
    order = Parcel.objects.get(tracking_number="NW-777")
    assert (order.partner, order.site, order.kind) == (retailer, store_a, Parcel.Kind.CLICK_AND_COLLECT)
    assert order.status == ParcelStatus.ANNOUNCED and order.compartment is None
    assert order.size_class == sizes["m"] and order.temperature_need == "chilled"
    assert str(order.recipient_phone) == "+16125550142"
    assert order.promised_at == datetime(2026, 12, 1, 17, 0, tzinfo=ZoneInfo("America/Chicago"))
    event = ParcelEvent.objects.get(parcel=order)
    assert event.actor == "partner" and event.user_id == associate.pk


def test_the_create_form_takes_dimensions_instead_of_a_size(client_of, associate, store_a, store_url):
    client_of(associate).post(store_url("order-new", store_a), {
        "order_number": "NW-778", "customer_name": "Cora", "email": "cora@example.com",
        "length_mm": "300", "width_mm": "200", "height_mm": "100", "temperature": "ambient",
    })

    assert Parcel.objects.get(tracking_number="NW-778").dimensions_mm == (300, 200, 100)


def test_the_create_form_refuses_an_order_without_contact_size_or_with_a_used_number(
    client_of, associate, store_a, make_order, store_url
):
    make_order(store_a, number="NW-USED")
    client = client_of(associate)

    no_contact = client.post(
        store_url("order-new", store_a), {"order_number": "NW-1", "customer_name": "C", "size": "s"}
    )
    no_size = client.post(store_url("order-new", store_a), {"order_number": "NW-2", "customer_name": "C",
                                                            "email": "c@example.com"})
    used = client.post(store_url("order-new", store_a), {"order_number": "NW-USED", "customer_name": "C",
                                                         "email": "c@example.com", "size": "s"})

    assert "phone or email" in no_contact.content.decode()
    assert "Give a size, or all three dimensions." in no_size.content.decode()
    assert "already in use" in used.content.decode()
    assert Parcel.objects.count() == 1


def test_the_template_downloads_as_csv_with_the_columns_the_import_reads(client_of, associate, store_a, store_url):
    answer = client_of(associate).get(store_url("import-template", store_a))

    assert answer["Content-Type"].startswith("text/csv")
    assert answer.content.decode().startswith(HEADER.strip())


def test_importing_the_template_itself_adds_its_example_order(client_of, associate, store_a, store_url):
    client = client_of(associate)
    template = client.get(store_url("import-template", store_a)).content

    client.post(store_url("import", store_a), {"file": SimpleUploadedFile("t.csv", template)})

    assert Parcel.objects.filter(tracking_number="ORD-10001", site=store_a).exists()


def test_an_import_keeps_good_rows_and_reports_bad_ones_by_line(
    client_of, associate, store_a, make_order, store_url
):
    make_order(store_a, number="NW-OLD")
    text = (
        "\ufeff" + HEADER
        + "NW-100,Ann Good,+16125550101,,s,,,,,,2026-12-01 10:00\n"           # line 2: good
        + "NW-101,,+16125550102,,s,,,,,,\n"                                   # line 3: no name
        + "NW-102,Bo Bad,,,s,,,,,,\n"                                         # line 4: no contact
        + "NW-OLD,Cy Dup,,cy@example.com,m,,,,,,\n"                           # line 5: number already used
        + "NW-103,Di Big,,di@example.com,,2000,2000,2000,,,\n"                # line 6: fits no door size
        + "NW-104,Ed Good,,ed@example.com,,300,200,100,900,chilled,\n"         # line 7: good
        + "NW-105,Fay Twice,,f@example.com,xl,,,,,,\n"                         # line 8: unknown size
        + "NW-106,Gus Twin,,g@example.com,s,,,,,,\n"                           # line 9: repeated in file
        + "NW-106,Gus Twin,,g@example.com,s,,,,,,\n"                           # line 10: repeated in file
        + "\n"
        + "NW-107,Hal Time,,h@example.com,s,,,,,frozen,tomorrow\n"             # line 12: bad time
    )

    answer = client_of(associate).post(store_url("import", store_a), {"file": upload(text)})

    report = answer.context["report"]
    assert sorted(order.tracking_number for order in report.created) == ["NW-100", "NW-104"]
    errors = {error.line: " ".join(error.reasons) for error in report.errors}
    assert sorted(errors) == [3, 4, 5, 6, 8, 9, 10, 12]
    assert "Customer name" in errors[3]
    assert "phone or email" in errors[4]
    assert "NW-OLD is already in use" in errors[5]
    assert "fits no compartment size" in errors[6]
    assert "Unknown size" in errors[8]
    assert "appears 2 times" in errors[9] and "appears 2 times" in errors[10]
    assert "Promised ready by" in errors[12]
    assert set(Parcel.objects.values_list("tracking_number", flat=True)) == {"NW-OLD", "NW-100", "NW-104"}
    chilled = Parcel.objects.get(tracking_number="NW-104")
    assert chilled.temperature_need == "chilled" and chilled.weight_g == 900
    page = answer.content.decode()
    assert "2 orders added, 8 rows rejected" in page


def test_an_import_without_the_required_columns_or_not_utf8_is_refused_whole(
    client_of, associate, store_a, store_url
):
    client = client_of(associate)

    missing = client.post(store_url("import", store_a), {"file": upload("number,name\nNW-1,Ann\n")})
    latin1 = client.post(store_url("import", store_a), {
        "file": SimpleUploadedFile("o.csv", (HEADER + "NW-1,Zoë,,z@example.com,s,,,,,,\n").encode("latin-1"))
    })

    assert "Missing column(s): order_number, customer_name" in missing.content.decode()
    assert "not UTF-8" in latin1.content.decode()
    assert not Parcel.objects.exists()


def test_an_import_with_a_cell_over_the_csv_field_limit_is_refused_whole(client_of, associate, store_a, store_url):
    text = HEADER + "NW-1,Ann,,ann@example.com,s,,,,,,\n" + "NW-2," + "x" * 140_000 + ",,b@example.com,s,,,,,,\n"
    assert len(text.encode()) < 2 * 1024 * 1024

    answer = client_of(associate).post(store_url("import", store_a), {"file": upload(text)})

    assert answer.status_code == 200
    assert "cannot be read as CSV" in answer.content.decode()
    assert not Parcel.objects.exists()
