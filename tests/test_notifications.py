"""The notification outbox: written with the parcel change, delivered at least once,
never twice by two workers, retried with backoff, and every attempt recorded.

Email goes to a real SMTP server on loopback (aiosmtpd); SMS goes through the real
Twilio adapter to a fake Twilio (http.server) on loopback: nothing leaves the machine.
"""

from __future__ import annotations

import base64
import email
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from notifications.channels import TwilioSms, twilio_signature
from notifications.models import Notification, NotificationAttempt, OptOut
from notifications.services import notification_resend, reminders_enqueue
from notifications.tasks import notification_deliver, notifications_send_due
from parcels import services
from parcels.models import Parcel
from parcels.services import code_secrets, page_token
from tests import parcel_states

SID, TOKEN, FROM = "ACtest00000000000000000000000000", "twilio-test-token", "+16125550000"


# --- a fake Twilio and a real SMTP server, both on loopback --------------------------------------


@dataclass
class FakeTwilio:
    """Answers Twilio's Messages API; `script` lists the answers to give in turn (then 201):
    a status code, or (status code, Twilio error code)."""

    script: list[int | tuple[int, int]] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                with fake.lock:
                    status, error_code = fake.script.pop(0) if fake.script else 201, None
                    if isinstance(status, tuple):
                        status, error_code = status
                    if status == 201:
                        assert self.headers["Authorization"] == expected
                        assert self.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
                        fake.received.append(form)
                    sid = f"SM{len(fake.received):032d}"
                error = {"code": error_code, "message": "refused", "status": status}
                body = json.dumps({"sid": sid} if status == 201 else error).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def twilio(settings) -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SMS_BACKEND = "notifications.channels.TwilioSms"
    settings.TWILIO_API_BASE = fake.url
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM = SID, TOKEN, FROM
    yield fake
    server.shutdown()
    server.server_close()


def free_port() -> int:
    # aiosmtpd's Controller probes its own port once started, so it needs a real number, not 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    yield inbox
    controller.stop()


@pytest.fixture
def site_url(settings) -> str:
    settings.SITE_URL = "https://lockers.example"
    return settings.SITE_URL


def body_of(message: EmailMessage, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no {content_type} part")


# --- written with the change ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transition_that_rolls_back_leaves_nothing_to_send(
    announce, locker, twilio, django_capture_on_commit_callbacks
):
    parcel = parcel_states.reserved(announce)

    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.parcel_deposit(parcel_id=parcel.pk, who=parcel_states.COURIER)
        assert Notification.objects.filter(parcel=parcel).count() == 2
        raise RuntimeError("the request failed after the deposit")

    assert not Notification.objects.exists()
    assert callbacks == []
    assert notifications_send_due() == 0
    assert twilio.received == []


@pytest.mark.django_db
def test_after_commit_a_worker_is_asked_to_send_at_once(announce, locker, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    parcel = parcel_states.reserved(announce)
    with django_capture_on_commit_callbacks(execute=True):
        services.parcel_deposit(parcel_id=parcel.pk, who=parcel_states.COURIER)

    assert OrmQ.objects.count() == 1


# --- what the recipient receives ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ready_sms_carries_code_link_site_and_local_deadline_in_one_segment(announce, locker, twilio, site_url):
    parcel = parcel_states.ready(announce)
    pin, _ = code_secrets(parcel.pickup_code)

    assert notifications_send_due() == 2  # the SMS, and the email (pytest-django's locmem backend)

    (sms,) = twilio.received
    assert sms["To"] == "+16125550100" and sms["From"] == FROM
    text = sms["Body"]
    assert pin in text and f"{site_url}/p/{page_token(parcel)}/" in text and "Loring Park Lockers" in text
    assert parcel.pickup_deadline.astimezone(parcel.site.tz).strftime("%H:%M") in text
    assert len(text) <= 160, text
    row = Notification.objects.get(parcel=parcel, channel="sms")
    assert row.status == "sent" and row.attempts == 1
    assert row.attempt_log.get().provider_id.startswith("SM")
    assert pin not in json.dumps(list(Notification.objects.values()), default=str)  # never stored


@pytest.mark.django_db
def test_the_ready_email_reaches_a_real_smtp_server_in_text_and_html(announce, locker, smtp, site_url):
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada Recipient", email="ada@example.com"))
    pin, _ = code_secrets(parcel.pickup_code)

    assert notifications_send_due() == 1

    (message,) = smtp.messages
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"] == NotificationAttempt.objects.get().provider_id
    assert "Loring Park Lockers" in message["Subject"]
    link = f"{site_url}/p/{page_token(parcel)}/"
    for part in ("text/plain", "text/html"):
        body = body_of(message, part)
        assert pin in body and link in body
    assert parcel.pickup_deadline.astimezone(parcel.site.tz).strftime("%H:%M") in body_of(message, "text/plain")


@pytest.mark.django_db
def test_a_spanish_recipient_gets_spanish_texts(announce, locker, twilio, smtp):
    recipient = services.Recipient(name="Lucía Pérez", phone="+16125550111", email="lucia@example.com", language="es")
    parcel_states.ready(announce, recipient=recipient)

    notifications_send_due()

    assert twilio.received[0]["Body"].startswith("Tu paquete te espera en Loring Park Lockers")
    assert len(twilio.received[0]["Body"]) <= 160
    assert smtp.messages[0]["Subject"].startswith("Tu paquete te espera")
    assert "Hola Lucía" in body_of(smtp.messages[0], "text/plain")


@pytest.mark.django_db
def test_an_email_server_that_is_down_is_a_failed_attempt_retried_later(announce, locker, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # the discard port: nobody listens
    parcel_states.ready(announce, recipient=services.Recipient(name="Ada", email="ada@example.com"))

    assert notifications_send_due() == 0

    row = Notification.objects.get()
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > timezone.now()
    assert row.attempt_log.get().outcome == "failed"


# --- at least once, never twice, retried ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_gateway_that_fails_twice_then_succeeds_ends_sent_with_three_attempts(announce, locker, twilio, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    twilio.script = [503, 500]
    parcel = parcel_states.ready(announce)
    sms = Notification.objects.get(parcel=parcel, channel="sms")

    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert notifications_send_due() == 1  # the email went; the SMS failed once
        assert notification_deliver(sms.pk) == "not_due"  # backing off
        clock.shift(timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS + 1))
        assert notification_deliver(sms.pk) == "pending"  # failed twice; the wait doubles
        clock.shift(timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS + 1))
        assert notification_deliver(sms.pk) == "not_due"
        clock.shift(timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS))
        assert notifications_send_due() == 1

    sms.refresh_from_db()
    assert sms.status == "sent" and sms.attempts == 3
    assert list(sms.attempt_log.values_list("number", "outcome")) == [(1, "failed"), (2, "failed"), (3, "sent")]
    assert "503" in sms.attempt_log.first().error
    assert len(twilio.received) == 1


@pytest.mark.django_db
def test_a_row_that_keeps_failing_ends_failed_after_the_last_attempt(announce, locker, twilio, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    twilio.script = [500, 500]
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", phone="+16125550100"))
    sms = Notification.objects.get(parcel=parcel)

    with time_machine.travel(timezone.now(), tick=False) as clock:
        notification_deliver(sms.pk)
        clock.shift(timedelta(hours=1))
        assert notification_deliver(sms.pk) == "failed"

    sms.refresh_from_db()
    assert sms.status == "failed" and sms.next_attempt_at is None and sms.attempt_log.count() == 2


@pytest.mark.django_db
def test_a_number_unsubscribed_at_twilio_fails_at_once_and_is_opted_out(announce, locker, twilio):
    twilio.script = [(400, 21610)]
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", phone="+16125550100"))

    assert notification_deliver(Notification.objects.get(parcel=parcel).pk) == "failed"

    assert OptOut.objects.filter(channel="sms", address="+16125550100").exists()
    assert Notification.objects.get(parcel=parcel).attempts == 1


@pytest.mark.django_db
def test_an_invalid_number_fails_at_once_without_retries(announce, locker, twilio):
    twilio.script = [(400, 21211)]
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", phone="+16125550100"))

    assert notification_deliver(Notification.objects.get(parcel=parcel).pk) == "failed"
    assert not OptOut.objects.exists()


class WorkerKilled(BaseException):
    """The worker process dies (OOM, deploy, power): nothing after this line runs."""


class DyingAfterSendGateway(TwilioSms):
    def send(self, message):
        provider_id = super().send(message)
        raise WorkerKilled(provider_id)


@pytest.mark.django_db
def test_a_worker_that_dies_between_sending_and_recording_does_not_lose_the_notification(
    announce, locker, twilio, settings
):
    parcel = parcel_states.ready(announce, recipient=services.Recipient(name="Ada", phone="+16125550100"))
    sms = Notification.objects.get(parcel=parcel)

    with time_machine.travel(timezone.now(), tick=False) as clock:
        settings.SMS_BACKEND = f"{__name__}.DyingAfterSendGateway"
        with pytest.raises(WorkerKilled):
            notification_deliver(sms.pk)
        sms.refresh_from_db()
        assert sms.status == "sending" and sms.claimed_until > timezone.now()

        settings.SMS_BACKEND = "notifications.channels.TwilioSms"
        assert notification_deliver(sms.pk) == "not_due"  # another worker respects the live claim
        clock.shift(timedelta(seconds=settings.NOTIFICATION_CLAIM_SECONDS + 1))
        assert notifications_send_due() == 1  # the lease ran out: the sweep sends it again

    sms.refresh_from_db()
    assert sms.status == "sent" and sms.attempts == 2
    assert len(twilio.received) == 2  # at least once: the recipient may get a duplicate, never nothing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_notification_once(announce, make_locker, twilio, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_locker("s s s s s s s s s s")
    for number in range(10):
        parcel_states.ready(announce, recipient=services.Recipient(name="R", phone=f"+1612555{number:04d}"))
    rows = Notification.objects.count()
    assert rows == 10
    barrier = threading.Barrier(4)
    sent: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            sent.append(notifications_send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent) == rows
    assert sorted(message["To"] for message in twilio.received) == sorted(
        Notification.objects.values_list("address", flat=True)
    )
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}


# --- stale messages, opt-outs and STOP -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_ready_message_still_queued_after_pickup_is_not_sent(announce, locker, twilio):
    parcel = parcel_states.picked_up(announce, locker)
    ready_sms = Notification.objects.get(parcel=parcel, kind="parcel_ready", channel="sms")

    assert notification_deliver(ready_sms.pk) == "suppressed"
    assert all("Code" not in message["Body"] for message in twilio.received)


def signed_post(client: Client, url: str, params: dict[str, str], token: str = TOKEN):
    from django.conf import settings

    signature = twilio_signature(url=settings.SITE_URL + url, params=params, auth_token=token)
    return client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.django_db
def test_an_sms_stop_reply_is_honoured_and_start_lifts_it(client: Client, announce, locker, twilio, site_url):
    url = "/notifications/sms/inbound/"

    response = signed_post(client, url, {"From": "+16125550100", "Body": "Stop", "To": FROM})

    assert response.status_code == 200 and b"<Response>" in response.content
    assert OptOut.objects.filter(channel="sms", address="+16125550100", source="sms_stop").exists()
    parcel = parcel_states.ready(announce)
    sms = Notification.objects.get(parcel=parcel, channel="sms")
    assert notification_deliver(sms.pk) == "suppressed"
    assert twilio.received == []

    signed_post(client, url, {"From": "+16125550100", "Body": "START", "To": FROM})
    assert not OptOut.objects.exists()


@pytest.mark.django_db
def test_an_inbound_sms_with_a_wrong_signature_is_refused(client: Client, twilio, site_url):
    response = signed_post(client, "/notifications/sms/inbound/", {"From": "+16125550100", "Body": "STOP"},
                           token="not-the-token")

    assert response.status_code == 403
    assert not OptOut.objects.exists()


# --- reminders and the operator ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reminders_go_once_per_deadline_and_again_after_an_extension(announce, locker):
    parcel = parcel_states.ready(announce)
    before = parcel.pickup_deadline - timedelta(hours=20)

    assert reminders_enqueue(now=before) == 1
    assert reminders_enqueue(now=before + timedelta(minutes=15)) == 0
    services.parcel_extend(parcel_id=parcel.pk, who=parcel_states.RECIPIENT)
    parcel.refresh_from_db()
    assert reminders_enqueue(now=parcel.pickup_deadline - timedelta(hours=20)) == 1
    kinds = set(Notification.objects.filter(parcel=parcel).values_list("kind", flat=True))
    assert {"parcel_ready", "extended"} <= kinds
    assert kinds & {"pickup_reminder", "expiring_today"}


@pytest.mark.django_db
def test_the_operator_sees_notifications_with_attempts_and_can_resend(announce, locker, twilio, settings):
    from tests.factories import UserFactory

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    parcel = parcel_states.ready(announce)
    notifications_send_due()
    sms = Notification.objects.get(parcel=parcel, channel="sms")
    operator = UserFactory(username="op", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)

    listing = client.get("/admin/notifications/notification/")
    detail = client.get(f"/admin/notifications/notification/{sms.pk}/change/")
    client.post("/admin/notifications/notification/", {"action": "resend", "_selected_action": [sms.pk]})

    assert listing.status_code == 200 and parcel.tracking_number in listing.content.decode()
    assert "Attempt" in detail.content.decode() or "attempt" in detail.content.decode()
    sms.refresh_from_db()
    assert sms.status == "pending"
    assert notifications_send_due() == 1
    assert len(twilio.received) == 2
    assert NotificationAttempt.objects.filter(notification=sms).count() == 2


@pytest.mark.django_db
def test_resend_sends_todays_code_after_a_reissue(announce, locker, twilio, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first = parcel_states.ready(announce)
    notifications_send_due()
    parcel_states.ready(announce)  # same recipient, same locker: one new code for both
    first = Parcel.objects.get(pk=first.pk)
    new_pin, _ = code_secrets(first.pickup_code)

    original = Notification.objects.filter(parcel=first, channel="sms", kind="parcel_ready").earliest("pk")
    notification_resend(notification_id=original.pk)
    notifications_send_due()

    assert new_pin in twilio.received[-1]["Body"]
