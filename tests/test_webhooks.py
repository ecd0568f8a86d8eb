"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signatures, retries, failures.

The task functions are called synchronously (no qcluster needed); nothing is mocked:
the receiver is an `http.server` started by the test.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from carriers.models import PartnerEvent, WebhookDelivery
from carriers.tasks import webhooks_dispatch
from carriers.webhooks import (
    backoff,
    webhook_deliveries_fan_out,
    webhook_deliveries_send_due,
    webhook_delivery_replay,
    webhook_delivery_send,
    webhook_endpoint_create,
)
from tests.partner_api_fixtures import *  # noqa: F403

pytestmark = pytest.mark.django_db


class Receiver:
    """Records every request; answers with the next scripted status (then the last one)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                self.end_headers()
                self.wfile.write(b"thanks" if receiver.statuses[index] < 300 else b"try later")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_for() -> Iterator[Any]:
    started: list[Receiver] = []

    def start(statuses: list[int]) -> Receiver:
        receiver = Receiver(statuses).__enter__()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.__exit__()


def documented_verify():
    """The Python recipe of docs/webhooks.md, run as written."""
    text = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace["verify_webhook"]


def _send_until_done(delivery: WebhookDelivery) -> None:
    """Run the sender at each retry time until the delivery ends."""
    for _ in range(20):
        delivery.refresh_from_db()
        if delivery.status != WebhookDelivery.Status.PENDING:
            return
        webhook_deliveries_send_due(now=delivery.next_attempt_at)


def test_a_delivery_is_signed_as_documented(receiver_for, carrier, announce):
    receiver = receiver_for([204])
    created = webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=[])
    parcel = announce()
    assert webhooks_dispatch() == 1
    (headers, body), = receiver.requests
    assert documented_verify()(created.secret, headers, body)
    assert not documented_verify()(created.secret, headers, body + b" ")
    event = PartnerEvent.objects.get()
    document = json.loads(body)
    assert document["id"] == headers["webhook-id"] == str(event.id)
    assert document["type"] == "parcel.announced"
    assert document["data"]["parcel"]["id"] == parcel.pk
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    attempt, = delivery.attempt_log.all()
    assert attempt.status_code == 204


def test_a_receiver_failing_twice_gets_the_event_three_times_then_it_is_delivered(receiver_for, carrier, announce):
    receiver = receiver_for([500, 503, 200])
    webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=["parcel.announced"])
    announce()
    webhooks_dispatch()
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()
    _send_until_done(delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 200]
    assert [a.response_excerpt for a in delivery.attempt_log.all()] == ["try later", "try later", "thanks"]
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == 1
    assert len(receiver.requests) == 3


@override_settings(WEBHOOK_MAX_ATTEMPTS=4)
def test_a_receiver_always_failing_ends_failed_with_every_attempt_logged(receiver_for, carrier, announce):
    receiver = receiver_for([500])
    webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=[])
    announce()
    webhooks_dispatch()
    delivery = WebhookDelivery.objects.get()
    _send_until_done(delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 4
    assert [a.status_code for a in delivery.attempt_log.all()] == [500] * 4
    assert len(receiver.requests) == 4
    times = [a.at for a in delivery.attempt_log.all()]
    assert [later - earlier for earlier, later in pairwise(times)] == [
        backoff(1), backoff(2), backoff(3)
    ]


@override_settings(WEBHOOK_MAX_ATTEMPTS=2)
def test_an_unreachable_receiver_logs_the_error(carrier, announce, receiver_for):
    receiver = receiver_for([200])
    url = receiver.url
    receiver.__exit__()  # nothing listens there any more
    webhook_endpoint_create(partner=carrier, url=url, event_types=[])
    announce()
    webhooks_dispatch()
    delivery = WebhookDelivery.objects.get()
    _send_until_done(delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert all(a.status_code is None and a.error for a in delivery.attempt_log.all())


def test_fan_out_follows_subscriptions_partners_and_runs_twice_safely(receiver_for, carrier, other_partner, announce,
                                                                      locker):
    wants_ready = webhook_endpoint_create(partner=carrier, url="https://a.example/h", event_types=["parcel.reserved"])
    everything = webhook_endpoint_create(partner=carrier, url="https://b.example/h", event_types=[])
    webhook_endpoint_create(partner=other_partner, url="https://c.example/h", event_types=[])
    announce(reserve=True)
    assert webhook_deliveries_fan_out() == 3
    assert webhook_deliveries_fan_out() == 0
    assert WebhookDelivery.objects.filter(endpoint=wants_ready.endpoint).count() == 1
    assert WebhookDelivery.objects.filter(endpoint=everything.endpoint).count() == 2


def test_events_before_an_endpoint_existed_are_not_sent_to_it(carrier, announce):
    announce()
    PartnerEvent.objects.update(occurred_at=timezone.now() - timedelta(minutes=1))
    webhook_endpoint_create(partner=carrier, url="https://a.example/h", event_types=[])
    assert webhook_deliveries_fan_out() == 0


def test_a_claimed_delivery_is_not_sent_twice(receiver_for, carrier, announce):
    receiver = receiver_for([200])
    webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=[])
    announce()
    webhook_deliveries_fan_out()
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=now + timedelta(seconds=30))
    assert webhook_delivery_send(delivery_id=delivery.pk, now=now) is False
    assert receiver.requests == []
    assert webhook_delivery_send(delivery_id=delivery.pk, now=now + timedelta(seconds=31)) is True
    assert len(receiver.requests) == 1
    assert webhook_delivery_send(delivery_id=delivery.pk, now=now + timedelta(seconds=32)) is False


@override_settings(WEBHOOK_MAX_ATTEMPTS=1)
def test_an_operator_replay_sends_a_failed_delivery_again(receiver_for, carrier, announce):
    receiver = receiver_for([500, 200])
    webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=[])
    announce()
    webhooks_dispatch()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    webhook_delivery_replay(delivery=delivery)
    webhook_deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempt_log.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_committed_transition_queues_the_dispatch_task(carrier, announce):
    from django_q.models import OrmQ

    webhook_endpoint_create(partner=carrier, url="https://a.example/h", event_types=[])
    announce()
    assert OrmQ.objects.count() >= 1


def test_a_paused_endpoint_gets_nothing_until_it_is_active_again(receiver_for, carrier, announce):
    receiver = receiver_for([200])
    created = webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=[])
    announce()
    webhook_deliveries_fan_out()
    type(created.endpoint).objects.filter(pk=created.endpoint.pk).update(is_active=False)
    assert webhook_deliveries_send_due() == 0
    assert receiver.requests == []
    type(created.endpoint).objects.filter(pk=created.endpoint.pk).update(is_active=True)
    assert webhook_deliveries_send_due() == 1


@override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=False)
@pytest.mark.parametrize("url", ["https://127.0.0.1/h", "https://10.1.2.3/h", "https://[::1]/h",
                                 "https://169.254.169.254/latest", "https://localhost/h"])
def test_private_hosts_are_refused_in_production(carrier, url):
    from carriers.webhooks import InvalidWebhook

    with pytest.raises(InvalidWebhook):
        webhook_endpoint_create(partner=carrier, url=url, event_types=[])


@override_settings(WEBHOOK_MAX_ATTEMPTS=1)
def test_a_name_that_resolves_to_a_private_address_is_not_called(receiver_for, carrier, announce):
    receiver = receiver_for([200])
    url = receiver.url.replace("127.0.0.1", "localhost")
    webhook_endpoint_create(partner=carrier, url=url, event_types=[])
    announce()
    with override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=False):
        webhooks_dispatch()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "non-public" in delivery.attempt_log.get().error
    assert receiver.requests == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_send_it_once(receiver_for, carrier, announce):
    from django.db import connection

    receiver = receiver_for([200])
    webhook_endpoint_create(partner=carrier, url=receiver.url, event_types=[])
    announce()
    webhook_deliveries_fan_out()
    delivery = WebhookDelivery.objects.get()
    workers = 6
    barrier = threading.Barrier(workers)
    sent: list[bool] = []

    def work() -> None:
        try:
            barrier.wait()
            sent.append(webhook_delivery_send(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sent.count(True) == 1
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 1)


@override_settings(WEBHOOK_MAX_ATTEMPTS=1)
def test_a_redirect_is_not_followed_and_the_attempt_fails(carrier, announce):
    """A receiver answering 302 to an internal address (say 169.254.169.254) gets nothing from it."""
    hits: list[str] = []
    location: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", location[0])
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Recording(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append("GET")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret metadata")

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    target = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    location.append(f"http://127.0.0.1:{target.server_port}/latest/meta-data")
    for server in (target, redirecting):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        webhook_endpoint_create(partner=carrier, url=f"http://127.0.0.1:{redirecting.server_port}/h", event_types=[])
        announce()
        webhooks_dispatch()
    finally:
        for server in (target, redirecting):
            server.shutdown()
            server.server_close()
    delivery = WebhookDelivery.objects.get()
    assert hits == []
    assert delivery.status == WebhookDelivery.Status.FAILED
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == 302
    assert "secret" not in attempt.response_excerpt


def test_webhook_and_notification_retries_share_one_backoff_with_their_own_caps():
    from lockers_site.backoff import next_attempt_at
    from notifications.tasks import _retry_at

    now = timezone.now()
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(seconds=base * 2 ** k) for k in range(3)]
    assert backoff(40) == timedelta(days=1)
    assert _retry_at(40, now) == now + timedelta(hours=1)
    assert _retry_at(2, now) == next_attempt_at(2, now, base_seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS,
                                                cap_seconds=3600)
