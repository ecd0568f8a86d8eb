"""Recipient accounts (allauth): sign up, verify, see one's parcels, set preferences;
operator staff need a second factor.
"""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from notifications.models import Notification, OptOut, RecipientProfile
from parcels import services
from tests import parcel_states
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a long pass phrase 42"


def sign_up_and_verify(client: Client, address: str) -> None:
    client.post("/accounts/signup/", {"email": address, "password1": PASSWORD, "password2": PASSWORD})
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    client.post("/" + path)
    client.post("/accounts/login/", {"login": address, "password": PASSWORD})


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """allauth counts sign-ups and confirmation emails per address in the cache; start each test clean."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def verified_user(db):
    user = UserFactory(username="ada", email="ada@example.com")
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=True, primary=True)
    return user


def test_a_recipient_signs_up_verifies_the_email_and_sees_only_their_parcels(client: Client, announce, locker):
    mine = parcel_states.ready(announce)
    theirs = parcel_states.ready(announce, recipient=services.Recipient(name="Bo", email="bo@example.com"))

    sign_up_and_verify(client, "Ada@Example.com")
    page = client.get("/accounts/parcels/").content.decode()

    assert mine.tracking_number in page and theirs.tracking_number not in page
    assert f"/p/{services.page_token(mine)}/" in page


def test_an_unverified_email_shows_no_parcels(client: Client, announce, locker):
    parcel = parcel_states.ready(announce)
    user = UserFactory(username="ada", email="ada@example.com")
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=False, primary=True)
    client.force_login(user)

    page = client.get("/accounts/parcels/").content.decode()

    assert parcel.tracking_number not in page
    assert "verify your email" in page


def test_my_parcels_needs_a_login(client: Client):
    response = client.get("/accounts/parcels/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_verified_phone_shows_parcels_sent_to_that_phone(client: Client, verified_user, announce, locker):
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", phone="+16125550100"))
    RecipientProfile.objects.create(user=verified_user, phone="+16125550100", phone_verified=True)
    client.force_login(verified_user)

    assert parcel.tracking_number in client.get("/accounts/parcels/").content.decode()


def test_preferences_set_site_language_and_turn_a_channel_off(client: Client, verified_user, site, announce, locker):
    client.force_login(verified_user)

    response = client.post("/accounts/preferences/", {"language": "es", "preferred_site": site.pk, "sms": "on"})

    assert response.status_code == 302
    profile = RecipientProfile.objects.get(user=verified_user)
    assert (profile.language, profile.preferred_site) == ("es", site)
    assert OptOut.objects.filter(channel="email", address="ada@example.com", source="profile").exists()
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", email="ada@example.com"))
    assert Notification.objects.get(parcel=parcel).language == "es"  # the account's language wins

    client.post("/accounts/preferences/", {"language": "en", "email": "on"})
    assert not OptOut.objects.exists()


def test_the_admin_login_is_allauths_login(client: Client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_operator_staff_without_an_authenticator_are_sent_to_set_one_up(client: Client, settings):
    settings.STAFF_MFA_REQUIRED = True
    operator = UserFactory(username="op", is_staff=True, is_superuser=True)
    client.force_login(operator)

    response = client.get("/admin/")

    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"


def test_operator_staff_with_an_authenticator_reach_the_admin(client: Client, settings):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    settings.STAFF_MFA_REQUIRED = True
    operator = UserFactory(username="op", is_staff=True, is_superuser=True)
    TOTP.activate(operator, generate_totp_secret())
    client.force_login(operator)

    assert client.get("/admin/").status_code == 200


def test_recipients_need_no_second_factor(client: Client, settings, verified_user):
    settings.STAFF_MFA_REQUIRED = True
    client.force_login(verified_user)

    assert client.get("/accounts/parcels/").status_code == 200


def code_from_sms(sms_file) -> str:
    import json

    return re.search(r"\b(\d{6})\b", json.loads(sms_file.read_text().splitlines()[-1])["text"]).group(1)


@pytest.fixture
def sms_file(settings, tmp_path):
    settings.SMS_BACKEND = "notifications.channels.FileSms"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    return tmp_path / "sms.jsonl"


def test_a_phone_proven_by_texted_code_brings_its_parcels(client: Client, verified_user, announce, locker, sms_file):
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", phone="+16125550177"))
    client.force_login(verified_user)

    client.post("/accounts/phone/", {"phone": "+1 612 555 0177"})
    assert parcel.tracking_number not in client.get("/accounts/parcels/").content.decode()
    response = client.post("/accounts/phone/confirm/", {"code": code_from_sms(sms_file)}, follow=True)

    assert "+16125550177 is verified" in response.content.decode()
    assert parcel.tracking_number in response.content.decode()


def test_a_wrong_code_proves_nothing_and_tries_are_limited(client: Client, verified_user, sms_file):
    client.force_login(verified_user)
    client.post("/accounts/phone/", {"phone": "+16125550177"})
    right = code_from_sms(sms_file)
    wrong = f"{(int(right) + 1) % 10**6:06d}"

    for _ in range(5):
        response = client.post("/accounts/phone/confirm/", {"code": wrong})
        assert "wrong or has expired" in response.content.decode()
    client.post("/accounts/phone/confirm/", {"code": right})

    assert not RecipientProfile.objects.filter(phone_verified=True).exists()


def test_codes_are_texted_at_most_three_times_an_hour_per_account(client: Client, verified_user, sms_file):
    client.force_login(verified_user)
    for _ in range(3):
        client.post("/accounts/phone/", {"phone": "+16125550177"})

    refused = client.post("/accounts/phone/", {"phone": "+16125550177"}, follow=True)

    assert "Too many codes were sent" in refused.content.decode()
    assert len(sms_file.read_text().splitlines()) == 3


def test_resending_does_not_reset_the_daily_count_of_wrong_codes(client: Client, verified_user, sms_file):
    client.force_login(verified_user)
    guesses = 0
    for _ in range(3):
        client.post("/accounts/phone/", {"phone": "+16125550177"})
        for _ in range(4):
            guesses += 1
            answer = client.post("/accounts/phone/confirm/", {"code": "000000"}, follow=True)
    assert guesses > 10
    assert "Too many wrong codes for this number today" in answer.content.decode()


def test_the_latest_account_to_prove_a_number_takes_it(client: Client, verified_user, sms_file):
    other = UserFactory(username="previous-owner")
    RecipientProfile.objects.create(user=other, phone="+16125550177", phone_verified=True)
    client.force_login(verified_user)

    client.post("/accounts/phone/", {"phone": "+16125550177"})
    client.post("/accounts/phone/confirm/", {"code": code_from_sms(sms_file)})

    assert RecipientProfile.objects.get(phone_verified=True).user == verified_user
