"""django-q2 entry points for webhooks and idempotency keys.

`webhooks_dispatch` runs on a schedule (see the `webhooks_schedule` migration) and right
after a transaction that wrote a `PartnerEvent` commits (see `carriers.apps`).
"""

from __future__ import annotations

from .idempotency import idempotency_keys_purge
from .webhooks import webhook_deliveries_fan_out, webhook_deliveries_send_due


def webhooks_dispatch() -> int:
    """Fan new events out to endpoints, then send what is due. Returns deliveries tried."""
    webhook_deliveries_fan_out()
    return webhook_deliveries_send_due()


def idempotency_keys_expire() -> int:
    return idempotency_keys_purge()
