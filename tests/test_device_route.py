"""Device API requests skip the browser's middleware (lockers.device.route), and nothing else changes for them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lockers.device.route import DEVICE_API

pytest_plugins = ["tests.device_support"]
pytestmark = pytest.mark.django_db

HEARTBEAT = {"firmware_version": "2.0.1"}


def test_every_device_route_is_under_the_prefix_the_route_sends_past_the_browser_middleware():
    for name in ("provision", "heartbeat", "pickup-code", "events", "courier-deposit"):
        assert reverse(f"device:{name}").startswith(DEVICE_API)
    assert reverse("device:command-ack", args=[7]).startswith(DEVICE_API)


def test_a_device_answer_has_the_security_headers_and_none_of_the_browser_middlewares(device, client):
    answer = device.post("heartbeat", HEARTBEAT)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert answer.status_code == 200, answer.content
    assert answer["X-Content-Type-Options"] == "nosniff"  # the security middleware still runs
    assert "X-Frame-Options" not in answer and "Vary" not in answer and not answer.cookies
    assert page["X-Frame-Options"] == "DENY" and "Accept-Language" in page["Vary"]


def test_a_locker_is_answered_in_the_default_language_after_a_page_in_another(device, client):
    spanish = client.get("/", HTTP_ACCEPT_LANGUAGE="es")
    assert spanish["Content-Language"] == "es"

    refused = device.post("heartbeat", {"last_event_sequence": -1})

    assert refused.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in refused.content.decode()


def test_an_unknown_device_path_is_a_404_and_a_device_view_error_its_problem_answer(device, client):
    assert client.get(DEVICE_API + "v1/no-such-thing").status_code == 404
    assert client.post(DEVICE_API + "v1/heartbeat", HEARTBEAT, content_type="application/json").status_code == 401


def test_every_device_answer_gives_its_length_so_the_server_need_not_chunk_it(device, client):
    """Without `Content-Length` gunicorn frames an answer in chunks (three writes, a body to decode)."""
    accepted = device.post("heartbeat", HEARTBEAT)
    refused = device.post("heartbeat", {"last_event_sequence": -1})
    unsigned = client.post(DEVICE_API + "v1/heartbeat", HEARTBEAT, content_type="application/json")
    unknown = client.get(DEVICE_API + "v1/no-such-thing")

    assert [answer.status_code for answer in (accepted, refused, unsigned, unknown)] == [200, 400, 401, 404]
    for answer in (accepted, refused, unsigned, unknown):
        assert answer["Content-Length"] == str(len(answer.content))
