"""Support cases: problems recipients report from their pickup page."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .lifecycle import Where, Who, record_event
from .models import Actor, Parcel, SupportCase


def support_case_open(*, parcel: Parcel, kind: str, message: str = "", contact: str = "") -> SupportCase:
    """Open a case for the operator and note it in the parcel's timeline (no status change).

    `kind` is a `SupportCase.Kind`; raises ValueError for anything else.
    """
    if kind not in SupportCase.Kind.values:
        raise ValueError(f"Unknown problem kind {kind!r}.")
    with transaction.atomic():
        case = SupportCase.objects.create(parcel=parcel, kind=kind, message=message.strip(), contact=contact.strip())
        record_event(
            parcel, event_type="problem_reported", from_status=parcel.status, where=Where(), who=Who(Actor.RECIPIENT),
            occurred_at=timezone.now(), details={"support_case_id": case.pk, "kind": kind},
        )
    return case


def support_cases_resolve(*, case_ids: list[int]) -> int:
    """Operator: mark open cases resolved. Returns how many changed."""
    return SupportCase.objects.filter(pk__in=case_ids, status=SupportCase.Status.OPEN).update(
        status=SupportCase.Status.RESOLVED, resolved_at=timezone.now()
    )
