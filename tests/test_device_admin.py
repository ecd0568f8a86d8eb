"""The operator's device console: tokens shown once, commands queued with a reason and rate limits, revocation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lockers.models import DeviceCredential, LockerCommand

pytest_plugins = ["tests.device_support"]


@pytest.fixture
def operator(admin_client):
    return admin_client


def test_an_operator_issues_a_provisioning_token_that_is_shown_once(operator, locker):
    response = operator.post(reverse("admin:lockers_devicecredential_issue"), {"locker": locker.pk}, follow=True)

    shown = [str(message) for message in response.context["messages"]]
    assert any("Provisioning token for" in text for text in shown)
    token = shown[0].rsplit(": ", 1)[1]
    assert DeviceCredential.objects.get(locker=locker).provisioning_token_hash not in ("", token)


def test_the_add_button_leads_to_the_service_forms(operator):
    assert operator.get(reverse("admin:lockers_devicecredential_add")).url.endswith("/issue/")
    assert operator.get(reverse("admin:lockers_lockercommand_add")).url.endswith("/queue/")
    assert operator.get(reverse("admin:lockers_lockercommand_queue")).status_code == 200


def test_an_operator_queues_a_remote_open_with_a_reason_until_the_rate_limit(operator, locker, admin_user):
    url = reverse("admin:lockers_lockercommand_queue")
    form = {"locker": locker.pk, "kind": "open_door", "door": "a1", "reason": "Ticket 17: door jammed"}

    answers = [operator.post(url, form) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [302, 302, 302, 200]
    assert "At most 3" in answers[-1].content.decode()
    command = LockerCommand.objects.first()
    assert (command.requested_by, command.reason, command.compartment.label) == (admin_user, form["reason"], "A1")
    assert operator.get(reverse("admin:lockers_lockercommand_changelist")).status_code == 200


def test_a_command_needs_a_reason_and_a_real_door(operator, locker):
    url = reverse("admin:lockers_lockercommand_queue")
    no_door = operator.post(url, {"locker": locker.pk, "kind": "open_door", "door": "Z9", "reason": "x"})
    no_reason = operator.post(url, {"locker": locker.pk, "kind": "refresh_bundle", "reason": ""})
    assert no_door.status_code == no_reason.status_code == 200
    assert not LockerCommand.objects.exists()


def test_revoke_and_rotation_actions(operator, provisioned):
    locker, _ = provisioned
    credential = DeviceCredential.objects.get(locker=locker)
    changelist = reverse("admin:lockers_devicecredential_changelist")

    operator.post(changelist, {"action": "request_rotation", "_selected_action": [credential.pk]})
    credential.refresh_from_db()
    assert credential.rotation_requested_at is not None

    operator.post(changelist, {"action": "revoke", "_selected_action": [credential.pk]})
    credential.refresh_from_db()
    assert credential.revoked_at is not None and credential.secret_encrypted == ""
    assert operator.get(changelist).status_code == 200
    assert operator.get(reverse("admin:lockers_deviceevent_changelist")).status_code == 200


def _commands_changelist_queries(operator, locker, admin_user, rows: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    doors = list(locker.compartments.all())
    LockerCommand.objects.all().delete()
    LockerCommand.objects.bulk_create([
        LockerCommand(locker=locker, kind=LockerCommand.Kind.OPEN_DOOR, compartment=doors[index % len(doors)],
                      reason=f"ticket {index}", requested_by=admin_user)
        for index in range(rows)
    ])
    with CaptureQueriesContext(connection) as queries:
        response = operator.get(reverse("admin:lockers_lockercommand_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count("ticket ") >= rows
    return len(queries)


def test_the_command_list_reads_a_fixed_number_of_queries_whatever_its_length(operator, locker, admin_user):
    assert _commands_changelist_queries(operator, locker, admin_user, 1) == _commands_changelist_queries(
        operator, locker, admin_user, 20
    )
