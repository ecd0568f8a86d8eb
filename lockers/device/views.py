"""The device API: one view per action, each parsing input and calling one service.

Every view but provisioning is signed (`DeviceSignatureAuthentication`); refusals
are RFC 9457 problem details through the project's exception handler.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from lockers.models import Compartment, Locker, LockerCommand
from lockers_site.api_helpers import validated
from parcels.models import Parcel
from parcels.services import dropoff_code_verify, pickup_code_verify

from . import courier
from . import serializers as s
from .auth import DeviceSignatureAuthentication, IsDevice
from .bundle import offline_bundle
from .commands import locker_command_acknowledge
from .credentials import device_provisioning_exchange, device_secret_rotate
from .events import EventIn, device_events_record
from .heartbeat import HeartbeatIn, device_heartbeat_record
from .parsers import GzipJSONParser

# A secret is shown once: no cache on the way may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}
_RENDERER = JSONRenderer()


def answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """A device API answer: `body` as DRF's JSON renderer writes it, in a plain response.

    DRF's `Response` renders through Django's template-response machinery at the end of
    the request, a twentieth of a pickup code check's CPU (docs/performance.md, *Eleventh
    pass*). Refusals stay problem-detail `Response`s from the exception handler.
    """
    return HttpResponse(_RENDERER.render(body), status=status, headers=headers, content_type=_RENDERER.media_type)


def _door(parcel: Parcel) -> dict[str, Any]:
    return {"door": parcel.compartment.label, "parcel_id": parcel.pk}


def _command(command: LockerCommand) -> dict[str, Any]:
    return {
        "id": command.pk,
        "kind": command.kind,
        "door": command.compartment.label if command.compartment else None,
        "reason": command.reason,
        "created_at": command.created_at.isoformat(),
    }


class JSONAnswers(DefaultContentNegotiation):
    """Devices get JSON whatever their Accept header says: the protocol has no other format,
    and parsing the header on every request cost a twentieth of a heartbeat's CPU.

    A body is read by the parser of its content type when the type names one exactly, as
    every locker's `application/json` does, without DRF's parsing of both media types;
    anything else goes through DRF's matching (parameters, wildcards, a 415).
    """

    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Request, parsers: list[BaseParser]) -> BaseParser | None:
        content_type = request.content_type
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return super().select_parser(request, parsers)


class DeviceView(APIView):
    authentication_classes = [DeviceSignatureAuthentication]
    permission_classes = [IsDevice]
    parser_classes = [GzipJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswers

    @property
    def locker(self) -> Locker:
        return self.request.user.locker


class ProvisionView(APIView):
    """Exchange the one-time provisioning token for the locker's secret (the only unsigned call)."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(request=s.ProvisionIn, responses={201: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.ProvisionIn, request.data)
        secret = device_provisioning_exchange(serial_number=data["serial_number"], token=data["token"])
        return answer({"serial_number": data["serial_number"], "secret": secret}, status=HTTPStatus.CREATED,
                        headers=NO_STORE)


class RotateSecretView(DeviceView):
    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        secret = device_secret_rotate(credential=request.auth)
        return answer({"secret": secret}, status=HTTPStatus.CREATED, headers=NO_STORE)


class HeartbeatView(DeviceView):
    @extend_schema(request=s.HeartbeatIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.HeartbeatIn, request.data)
        report = HeartbeatIn(
            firmware_version=data["firmware_version"],
            doors=data["doors"],
            sensors=data["sensors"],
            last_event_sequence=data["last_event_sequence"],
            bundle_version=data["bundle_version"],
        )
        recorded = device_heartbeat_record(locker=self.locker, credential=request.auth, report=report)
        return answer({
            "server_time": timezone.now().isoformat(),
            "commands": [_command(command) for command in recorded.commands],
            "bundle_version": recorded.bundle_version,
            "bundle_changed": recorded.bundle_changed,
            "rotate_secret": recorded.rotate_secret,
            "last_event_sequence": recorded.last_event_sequence,
        })


class BundleView(DeviceView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def get(self, request: Request) -> HttpResponse:
        bundle = offline_bundle(self.locker)
        return answer({
            "version": bundle.version,
            "key": bundle.key,
            "generated_at": bundle.generated_at.isoformat(),
            "codes": [{**entry, "valid_until": entry["valid_until"].isoformat()} for entry in bundle.entries],
        })


class PickupCodeView(DeviceView):
    @extend_schema(request=s.CodeIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.CodeIn, request.data)
        parcels = pickup_code_verify(locker=self.locker, pin=data["pin"] or None, qr_token=data["qr_token"] or None)
        return answer({"purpose": "pickup", "doors": [_door(parcel) for parcel in parcels]})


class DropOffCodeView(DeviceView):
    @extend_schema(request=s.CodeIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.CodeIn, request.data)
        parcel = dropoff_code_verify(locker=self.locker, pin=data["pin"] or None, qr_token=data["qr_token"] or None)
        return answer({"purpose": "drop_off", "doors": [_door(parcel)]})


class CourierSignInView(DeviceView):
    @extend_schema(request=s.CourierSignInIn, responses={201: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.CourierSignInIn, request.data)
        session = courier.courier_session_open(locker=self.locker, badge_number=data["badge_number"], pin=data["pin"])
        return answer({
            "session": session.token,
            "expires_at": session.expires_at.isoformat(),
            "courier_name": session.credential.courier_name,
            "partner": session.credential.partner.name,
        }, status=HTTPStatus.CREATED)


def _courier_parcel(parcel: Parcel, locker_id: int) -> dict[str, Any]:
    door: Compartment | None = parcel.compartment
    return {
        "parcel_id": parcel.pk,
        "tracking_number": parcel.tracking_number,
        "kind": parcel.kind,
        "status": parcel.status,
        "size_class": parcel.size_class.code if parcel.size_class else None,
        "door": door.label if door and door.locker_id == locker_id else None,
    }


class CourierParcelsView(DeviceView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def get(self, request: Request) -> HttpResponse:
        credential = courier.courier_session_check(locker=self.locker, token=request.query_params.get("session", ""))
        expected = courier.courier_expected_parcels(locker=self.locker, credential=credential)
        to_collect = courier.courier_parcels_to_collect(locker=self.locker, credential=credential).select_related(
            "size_class"
        )
        return answer({
            "to_deposit": [_courier_parcel(parcel, self.locker.pk) for parcel in expected],
            "to_collect": [_courier_parcel(parcel, self.locker.pk) for parcel in to_collect],
        })


class CourierDepositView(DeviceView):
    @extend_schema(request=s.CourierDepositIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.CourierDepositIn, request.data)
        credential = courier.courier_session_check(locker=self.locker, token=data["session"])
        parcel, door = courier.courier_deposit_door(
            locker=self.locker, credential=credential, tracking_number=data["tracking_number"]
        )
        return answer({"door": door.label, "parcel_id": parcel.pk})


class CourierDoorProblemView(DeviceView):
    @extend_schema(request=s.CourierDoorProblemIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.CourierDoorProblemIn, request.data)
        credential = courier.courier_session_check(locker=self.locker, token=data["session"])
        door = courier.courier_door_problem(
            locker=self.locker, credential=credential, parcel_id=data["parcel_id"], problem=data["problem"]
        )
        return answer({"door": door.label, "parcel_id": data["parcel_id"]})


class CourierCollectView(DeviceView):
    @extend_schema(request=s.CourierCollectIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.CourierCollectIn, request.data)
        credential = courier.courier_session_check(locker=self.locker, token=data["session"])
        parcel = courier.courier_collect_door(locker=self.locker, credential=credential, parcel_id=data["parcel_id"])
        return answer(_door(parcel))


class EventsView(DeviceView):
    @extend_schema(request=s.EventsIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.EventsIn, request.data)
        events = [EventIn(**row) for row in data["events"]]
        result = device_events_record(locker=self.locker, events=events)
        return answer(result.as_dict())


class CommandAckView(DeviceView):
    @extend_schema(request=s.CommandAckIn, responses={200: OpenApiTypes.OBJECT}, tags=["device"])
    def post(self, request: Request, command_id: int) -> HttpResponse:
        data = validated(s.CommandAckIn, request.data)
        command = locker_command_acknowledge(
            locker=self.locker, command_id=command_id, succeeded=data["succeeded"], result=data["result"]
        )
        return answer({"id": command.pk, "state": command.state})
