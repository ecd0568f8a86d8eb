"""Signed webhooks in the Standard Webhooks style, fed from the `PartnerEvent` outbox.

Each transition writes a `PartnerEvent` in the parcel's transaction. Outside any
transaction, a task fans new events out to one `WebhookDelivery` per interested
endpoint (a unique constraint makes fan-out safe to repeat) and another sends the
due deliveries. A delivery is claimed with a conditional update before sending, so two
workers never send it at once; a failure is retried with exponential backoff up to
`WEBHOOK_MAX_ATTEMPTS`, then the delivery is failed. Receivers de-duplicate by the
event id, which is the `webhook-id` header and the body's `id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from lockers_site.backoff import retry_delay
from parcels.lifecycle import BIRTH_EVENTS, TRANSITIONS

from .models import Partner, PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

SECRET_PREFIX = "whsec_"
EVENT_TYPES = tuple(sorted({*BIRTH_EVENTS.values(), *(t.webhook_type for t in TRANSITIONS.values())}))
# Events older than this are not fanned out to an endpoint that missed them.
FAN_OUT_LOOKBACK = timedelta(days=3)
RESPONSE_EXCERPT = 500
WEBHOOK_RETRY_CAP_SECONDS = 24 * 3600
USER_AGENT = "OpenLockers-Webhooks/1"


class InvalidWebhook(ValueError):
    """A URL or event type a webhook endpoint cannot have."""


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str


# --- endpoints -------------------------------------------------------------------------


def _is_public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).is_global


def _check_url(url: str) -> None:
    schemes = ["https", "http"] if settings.WEBHOOK_ALLOW_HTTP else ["https"]
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError as error:
        raise InvalidWebhook(f"The URL must be a valid {' or '.join(schemes)} URL.") from error
    host = (urlsplit(url).hostname or "").lower()
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return
    try:
        private = not _is_public(host)
    except ValueError:  # a name, not an address literal: checked again when sending
        private = host == "localhost" or host.endswith(".localhost")
    if private:
        raise InvalidWebhook("The URL must name a public host.")


def _refuse_private(url: str) -> str:
    """Why `url` must not be called (its host resolves to a non-public address), or ''.

    Stops a webhook from reaching our own network (cloud metadata, the database).
    """
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return ""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError) as error:
        return f"cannot resolve the host: {error}"[:300]
    if not all(_is_public(info[4][0]) for info in infos):
        return "refused: the host resolves to a non-public address"
    return ""


def webhook_endpoint_create(*, partner: Partner, url: str, event_types: list[str]) -> CreatedEndpoint:
    """Register an endpoint; the signing secret is returned here and never shown again.

    Raises `InvalidWebhook` for a URL that is not https (http too where allowed) or an
    unknown event type. An empty `event_types` subscribes to every type.
    """
    _check_url(url)
    unknown = set(event_types) - set(EVENT_TYPES)
    if unknown:
        raise InvalidWebhook(f"Unknown event types: {', '.join(sorted(unknown))}.")
    secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url=url, secret=secret, event_types=sorted(set(event_types))
    )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its pending deliveries (their attempt log goes with them)."""
    endpoint.delete()


# --- signing ---------------------------------------------------------------------------


def webhook_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`, keyed by the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_body(event: PartnerEvent) -> bytes:
    document = {"id": str(event.id), "type": event.type, "timestamp": event.occurred_at.isoformat(),
                "data": event.payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


# --- fan-out ---------------------------------------------------------------------------


def webhook_deliveries_fan_out(*, now: datetime | None = None) -> int:
    """Create the missing delivery of every recent event for every active endpoint that wants it.

    Safe to run at once in several workers: the unique (event, endpoint) constraint
    drops duplicates. Only events since the endpoint was created are sent to it.
    """
    now = now or timezone.now()
    created = 0
    for endpoint in WebhookEndpoint.objects.filter(is_active=True, partner__is_active=True):
        events = PartnerEvent.objects.filter(
            partner_id=endpoint.partner_id, occurred_at__gte=max(endpoint.created_at, now - FAN_OUT_LOOKBACK)
        ).exclude(Exists(WebhookDelivery.objects.filter(event=OuterRef("pk"), endpoint=endpoint)))
        if endpoint.event_types:
            events = events.filter(type__in=endpoint.event_types)
        rows = [WebhookDelivery(event_id=event_id, endpoint=endpoint, next_attempt_at=now)
                for event_id in events.values_list("pk", flat=True)]
        created += len(WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True))
    return created


# --- sending ---------------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take a due delivery for one send; False if another worker holds it or it is not due.

    One conditional UPDATE on the delivery's own columns: PostgreSQL re-checks them
    on the row a racing worker just changed, so only one worker wins. (A condition on
    a joined table would become a subquery read before the race, and every worker
    would win: the endpoint is checked apart, before.)
    """
    if not WebhookEndpoint.objects.filter(deliveries__pk=delivery_id, is_active=True).exists():
        return False
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 5)
    return bool(
        WebhookDelivery.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
        ).update(claimed_until=now + lease)
    )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: its target was not checked by `_refuse_private`.

    urllib then raises the 3xx as an `HTTPError`, so the attempt fails with its status.
    """

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    refusal = _refuse_private(url)
    if refusal:
        return Outcome(None, 0, error=refusal)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            excerpt = response.read(RESPONSE_EXCERPT).decode("utf-8", "replace")
            return Outcome(response.status, int((time.monotonic() - started) * 1000), excerpt)
    except urllib.error.HTTPError as error:
        excerpt = error.read(RESPONSE_EXCERPT).decode("utf-8", "replace")
        return Outcome(error.code, int((time.monotonic() - started) * 1000), excerpt)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Outcome(None, int((time.monotonic() - started) * 1000), error=str(error)[:300])


def backoff(attempts: int) -> timedelta:
    """Wait before try number `attempts + 1`: base, 2 base, 4 base... capped at one day."""
    return retry_delay(attempts, base_seconds=settings.WEBHOOK_RETRY_BASE_SECONDS,
                       cap_seconds=WEBHOOK_RETRY_CAP_SECONDS)


def _record(delivery: WebhookDelivery, outcome: Outcome, at: datetime) -> None:
    attempts = delivery.attempts + 1
    if outcome.ok:
        changes = {"status": WebhookDelivery.Status.DELIVERED, "delivered_at": at, "next_attempt_at": None}
    elif attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        changes = {"status": WebhookDelivery.Status.FAILED, "next_attempt_at": None}
    else:
        changes = {"next_attempt_at": at + backoff(attempts)}
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, at=at, status_code=outcome.status_code, latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt, error=outcome.error,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=attempts, claimed_until=None, **changes)


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Send one due delivery once, log the attempt, and schedule a retry or end it.

    Returns False (and sends nothing) if the delivery is not due or another worker
    holds it. Never call inside a transaction: it makes an HTTP request.
    """
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return False
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    body = webhook_body(delivery.event)
    timestamp = int(time.time())
    message_id = str(delivery.event_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(
            secret=delivery.endpoint.secret, message_id=message_id, timestamp=timestamp, body=body
        ),
    }
    _record(delivery, _post(delivery.endpoint.url, body, headers), now)
    return True


def webhook_deliveries_send_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Send up to `limit` due deliveries, oldest first. Returns how many were tried."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, endpoint__is_active=True,
    ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    return sum(webhook_delivery_send(delivery_id=pk, now=now) for pk in list(due))


def webhook_delivery_replay(*, delivery: WebhookDelivery) -> None:
    """Send a delivery again from scratch (an operator's request), whatever its status.

    Its attempt log is kept; it gets a fresh budget of attempts and is due now.
    """
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_until=None,
        delivered_at=None,
    )


def _hand_off(partner_id: int) -> Callable[[], None]:
    """The after-commit call that asks the task worker to send a partner's new events."""

    def webhooks_dispatch_if_subscribed() -> None:
        _pending_hand_offs().pop(partner_id, None)
        # After the commit, so that the transaction holds its locks no longer for it.
        if WebhookEndpoint.objects.filter(partner_id=partner_id, is_active=True).exists():
            from django_q.tasks import async_task

            async_task("carriers.tasks.webhooks_dispatch")

    return webhooks_dispatch_if_subscribed


_hand_offs = threading.local()


def _pending_hand_offs() -> weakref.WeakValueDictionary[int, Callable[[], None]]:
    """This thread's hand-offs waiting for their transaction's commit, by partner.

    Held weakly: Django keeps the only strong reference in the transaction's commit hooks
    and drops it when the transaction (or the savepoint that registered it) rolls back,
    which removes the entry, so the next transaction registers its own.
    """
    if not hasattr(_hand_offs, "pending"):
        _hand_offs.pending = weakref.WeakValueDictionary()
    return _hand_offs.pending


def dispatch_after_commit(sender: type[PartnerEvent], instance: PartnerEvent, created: bool, **kwargs: object) -> None:
    """post_save of a PartnerEvent: queue the dispatch task once its transaction commits.

    One hand-off per partner and transaction, however many events it writes (an
    announcement with a reservation writes two): the task sends every pending event.
    """
    if not created or not settings.WEBHOOK_DISPATCH_ON_COMMIT:
        return
    pending = _pending_hand_offs()
    if instance.partner_id in pending:
        return
    hand_off = pending[instance.partner_id] = _hand_off(instance.partner_id)
    # robust: a broker outage must not turn the committed change into a 500; the
    # one-minute sweep sends what this hand-off missed.
    transaction.on_commit(hand_off, robust=True)
