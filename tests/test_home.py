import pytest
from django.contrib.auth import get_user_model

from carriers.models import Partner, PartnerMember


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(username="u", email="u@example.com", password="pw-123456789")


def test_visitors_see_what_the_network_is_and_where_to_sign_in(client, db):
    page = client.get("/")
    assert page.status_code == 200
    assert b"Open Lockers" in page.content and b"/accounts/login/" in page.content


@pytest.mark.parametrize(
    ("role", "kind", "target"),
    [
        (PartnerMember.Role.STORE_ASSOCIATE, Partner.Kind.RETAILER, "/store/"),
        (PartnerMember.Role.RETAIL_MANAGER, Partner.Kind.RETAILER, "/store/"),
        (PartnerMember.Role.ADMIN, Partner.Kind.CARRIER, "/partners/"),
    ],
)
def test_partner_people_land_on_their_console(client, user, role, kind, target):
    partner = Partner.objects.create(name="P", slug="p", kind=kind)
    PartnerMember.objects.create(partner=partner, user=user, role=role)
    client.force_login(user)
    assert client.get("/").url == target


def test_operators_land_in_the_admin_and_recipients_on_their_parcels(client, user):
    client.force_login(user)
    assert client.get("/").url == "/accounts/parcels/"
    user.is_staff = True
    user.save()
    assert client.get("/").url == "/admin/"
