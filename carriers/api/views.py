"""Partner API views: one view per action that changes state, each calling one service.

A partner only ever reaches its own parcels: every look-up goes through
`partner_parcels`, so another partner's parcel is a plain 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carriers.models import ApiKey, Partner, WebhookEndpoint
from carriers.selectors import SiteHit, SiteQuery, free_doors_by_site, partner_parcels, site_search
from carriers.webhooks import InvalidWebhook, webhook_endpoint_create, webhook_endpoint_delete
from lockers.models import Site
from lockers_site.api_helpers import validated
from parcels.lifecycle import Who
from parcels.models import Actor, Parcel, ParcelStatus
from parcels.selectors import parcel_timeline, status_catalogue
from parcels.services import (
    ParcelSpec,
    Recipient,
    code_secrets,
    parcel_announce,
    parcel_cancel,
    parcel_extend,
    parcel_redirect,
    parcel_reserve,
    return_announce,
)

from . import examples
from . import serializers as s
from .auth import ApiKeyAuthentication, ApiKeyThrottle, HasScope, PublicIpThrottle
from .idempotency import idempotent


class PartnerView(APIView):
    """Authenticated by API key, scope-checked and throttled per key."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyThrottle]
    required_scope = ApiKey.Scope.READ

    @property
    def partner(self) -> Partner:
        return self.request.auth.partner

    def who(self) -> Who:
        return Who(Actor.PARTNER, f"{self.partner.slug} (key {self.request.auth.prefix})")

    def scope_for(self, request: Request) -> str:
        return self.required_scope

    def parcels(self) -> QuerySet[Parcel]:
        return partner_parcels(self.partner)

    def parcel(self, parcel_id: int) -> Parcel:
        return get_object_or_404(self.parcels(), pk=parcel_id)

    def parcel_answer(self, parcel: Parcel, http_status: int = status.HTTP_200_OK) -> Response:
        """The parcel as it now stands, read again with what the answer shows (its site, size and door).

        Scoped by the key's partner, already loaded, not by the parcel's, which a service's
        answer has not loaded.
        """
        return Response(s.parcel_out(self.parcels().get(pk=parcel.pk)), status=http_status)


class WriteView(PartnerView):
    required_scope = ApiKey.Scope.WRITE


# --- public --------------------------------------------------------------------------------


class StatusCatalogueView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes = [PublicIpThrottle]

    @extend_schema(operation_id="statuses_list", responses=s.StatusOut(many=True), auth=[],
                   summary="The parcel status catalogue", examples=[examples.STATUSES])
    def get(self, request: Request) -> Response:
        return Response(s.StatusOut(status_catalogue(), many=True).data)


class PublicSiteSearchView(APIView):
    """Keyless, read-only site search for the checkout widget; throttled per client address."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes = [PublicIpThrottle]

    @extend_schema(operation_id="public_sites_search", examples=[examples.PUBLIC_SITES],
                   parameters=[s.PublicSiteSearchQuery], auth=[],
                   responses=s.PublicSiteSearchOut, summary="Find sites by postal code or address text (no key)")
    def get(self, request: Request) -> Response:
        query = validated(s.PublicSiteSearchQuery, request.query_params)
        hits = site_search(SiteQuery(text=query["q"], free_size=query.get("size", ""),
                                     radius_km=query["radius_km"]))
        return Response(s.PublicSiteSearchOut({"results": hits}).data)


# --- sites ---------------------------------------------------------------------------------


class SiteSearchView(PartnerView):
    @extend_schema(operation_id="sites_search", parameters=[s.SiteSearchQuery], responses=s.SiteSearchOut,
                   summary="Search sites with their free doors per size", examples=[examples.SITES])
    def get(self, request: Request) -> Response:
        query = validated(s.SiteSearchQuery, request.query_params)
        hits = site_search(SiteQuery(
            latitude=query.get("lat"), longitude=query.get("lon"), radius_km=query["radius_km"],
            city=query.get("city", ""), postal_code=query.get("postal_code", ""), open_now=query["open_now"],
            accessible=query["accessible"], temperature_zone=query.get("temperature_zone", ""),
            limit=query["limit"],
        ))
        return Response(s.SiteSearchOut({"results": hits}).data)


class SiteDetailView(PartnerView):
    @extend_schema(operation_id="sites_retrieve", examples=[examples.SITE],
                   responses=s.SiteOut, summary="One site with its free doors")
    def get(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site.objects.exclude(status=Site.Status.DECOMMISSIONED), pk=site_id)
        hit = SiteHit(site=site, free_by_size=free_doors_by_site([site.pk])[site.pk])
        return Response(s.SiteOut(hit).data)


# --- parcels -------------------------------------------------------------------------------


class ParcelCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ParcelListCreateView(generics.GenericAPIView, PartnerView):
    pagination_class = ParcelCursor
    serializer_class = s.ParcelOut

    def scope_for(self, request: Request) -> str:
        return ApiKey.Scope.WRITE if request.method == "POST" else ApiKey.Scope.READ

    @extend_schema(operation_id="parcels_list", examples=[examples.PARCEL_ITEM],
                   parameters=[s.ParcelListQuery], responses=s.ParcelOut(many=True),
                   summary="List your parcels, newest first (cursor pagination)")
    def get(self, request: Request) -> Response:
        query = validated(s.ParcelListQuery, request.query_params)
        parcels = self.parcels()
        if "status" in query:
            parcels = parcels.filter(status=query["status"])
        if "site" in query:
            parcels = parcels.filter(site_id=query["site"])
        if "updated_since" in query:
            parcels = parcels.filter(updated_at__gte=query["updated_since"])
        for field in ("external_reference", "tracking_number"):
            if field in query:
                parcels = parcels.filter(**{field: query[field]})
        page = self.paginate_queryset(parcels)
        return self.get_paginated_response(s.ParcelOut(page, many=True).data)

    @extend_schema(operation_id="parcels_announce", request=s.ParcelAnnounceIn,
                   responses={201: s.ParcelOut}, summary="Announce a parcel (optionally reserving a door)",
                   examples=[examples.ANNOUNCE_IN, examples.PARCEL_OUT])
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(s.ParcelAnnounceIn, request.data)
        parcel = parcel_announce(
            partner=self.partner, tracking_number=data["tracking_number"], site=data["site_id"],
            recipient=Recipient(**data["recipient"]), spec=ParcelSpec(**data["item"]), kind=data["kind"],
            external_reference=data["external_reference"], reserve=data["reserve"], who=self.who(),
        )
        return self.parcel_answer(parcel, status.HTTP_201_CREATED)


class ParcelDetailView(PartnerView):
    @extend_schema(operation_id="parcels_retrieve", responses=s.ParcelOut, summary="One of your parcels",
                   examples=[examples.PARCEL_OUT])
    def get(self, request: Request, parcel_id: int) -> Response:
        return Response(s.parcel_out(self.parcel(parcel_id)))


class ParcelByReferenceView(PartnerView):
    @extend_schema(operation_id="parcels_by_reference", examples=[examples.PARCEL_ITEM], responses=s.ParcelOut,
                   summary="Your most recent parcel with this external reference")
    def get(self, request: Request, reference: str) -> Response:
        reference = validated(s.ReferenceIn, {"reference": reference})["reference"]
        parcel = self.parcels().filter(external_reference=reference).order_by("-id").first()
        if parcel is None:
            raise Http404
        return Response(s.parcel_out(parcel))


class ParcelTimelineView(PartnerView):
    @extend_schema(operation_id="parcels_timeline", examples=[examples.TIMELINE],
                   responses=s.TimelineEventOut(many=True),
                   summary="The parcel's custody events, oldest first")
    def get(self, request: Request, parcel_id: int) -> Response:
        return Response(s.TimelineEventOut(parcel_timeline(self.parcel(parcel_id)), many=True).data)


class ParcelCancelView(WriteView):
    @extend_schema(operation_id="parcels_cancel", examples=[examples.PARCEL_ITEM], request=None, responses=s.ParcelOut,
                   summary="Cancel a parcel not yet deposited")
    @idempotent
    def post(self, request: Request, parcel_id: int) -> Response:
        return self.parcel_answer(parcel_cancel(parcel_id=self.parcel(parcel_id).pk, who=self.who()))


class ParcelReserveView(WriteView):
    @extend_schema(operation_id="parcels_reserve", examples=[examples.PARCEL_ITEM], request=None, responses=s.ParcelOut,
                   summary="Hold a fitting door at the parcel's site")
    @idempotent
    def post(self, request: Request, parcel_id: int) -> Response:
        return self.parcel_answer(parcel_reserve(parcel_id=self.parcel(parcel_id).pk, who=self.who()))


class ParcelRedirectView(WriteView):
    @extend_schema(operation_id="parcels_redirect", examples=[examples.REDIRECT_IN, examples.PARCEL_ITEM],
                   request=s.ParcelRedirectIn, responses=s.ParcelOut,
                   summary="Send a parcel not yet deposited to another site")
    @idempotent
    def post(self, request: Request, parcel_id: int) -> Response:
        parcel = self.parcel(parcel_id)
        data = validated(s.ParcelRedirectIn, request.data)
        return self.parcel_answer(parcel_redirect(parcel_id=parcel.pk, site=data["site_id"], who=self.who()))


class ParcelExtendView(WriteView):
    @extend_schema(operation_id="parcels_extend", examples=[examples.EXTEND_IN, examples.PARCEL_ITEM],
                   request=s.ParcelExtendIn, responses=s.ParcelOut,
                   summary="Push a waiting parcel's pickup deadline back")
    @idempotent
    def post(self, request: Request, parcel_id: int) -> Response:
        parcel = self.parcel(parcel_id)
        data = validated(s.ParcelExtendIn, request.data)
        extension = timedelta(hours=data["hours"]) if "hours" in data else None
        return self.parcel_answer(parcel_extend(parcel_id=parcel.pk, who=self.who(), extension=extension))


# --- returns -------------------------------------------------------------------------------


def _dropoff_code(parcel: Parcel) -> dict[str, Any]:
    pin, qr_token = code_secrets(parcel.pickup_code)
    return {"parcel_id": parcel.pk, "site_id": parcel.site_id, "pin": pin, "qr_token": qr_token}


class ReturnAnnounceView(WriteView):
    @extend_schema(operation_id="returns_announce", examples=[examples.RETURN_IN, examples.RETURN_OUT],
                   request=s.ReturnAnnounceIn, responses={201: s.ReturnOut},
                   summary="Announce a return and get the recipient's drop-off code")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(s.ReturnAnnounceIn, request.data)
        parcel, _issued = return_announce(
            partner=self.partner, tracking_number=data["tracking_number"], site=data["site_id"],
            recipient=Recipient(**data["recipient"]), spec=ParcelSpec(**data["item"]),
            external_reference=data["external_reference"], who=self.who(),
        )
        parcel = self.parcel(parcel.pk)
        body = {"parcel": s.parcel_out(parcel), "dropoff_code": s.DropOffCodeOut(_dropoff_code(parcel)).data}
        return Response(body, status=status.HTTP_201_CREATED)


class DropOffCodeView(PartnerView):
    @extend_schema(operation_id="returns_dropoff_code", examples=[examples.DROPOFF_CODE], responses=s.DropOffCodeOut,
                   summary="The drop-off code of a return still to be dropped off")
    def get(self, request: Request, parcel_id: int) -> Response:
        parcel = get_object_or_404(
            self.parcels().select_related("pickup_code"), pk=parcel_id, kind=Parcel.Kind.RETURN,
            status=ParcelStatus.RETURN_ANNOUNCED, pickup_code__isnull=False,
        )
        return Response(s.DropOffCodeOut(_dropoff_code(parcel)).data)


# --- webhooks ------------------------------------------------------------------------------


class WebhookView(PartnerView):
    required_scope = ApiKey.Scope.WEBHOOKS

    def endpoints(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.filter(partner=self.partner)


class WebhookListCreateView(WebhookView):
    @extend_schema(operation_id="webhooks_list", examples=[examples.WEBHOOK_OUT],
                   responses=s.WebhookEndpointOut(many=True),
                   summary="Your webhook endpoints")
    def get(self, request: Request) -> Response:
        return Response(s.WebhookEndpointOut(self.endpoints(), many=True).data)

    @extend_schema(operation_id="webhooks_create", request=s.WebhookEndpointIn,
                   responses={201: s.WebhookEndpointCreatedOut}, summary="Register a webhook endpoint",
                   examples=[examples.WEBHOOK_IN, examples.WEBHOOK_CREATED])
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(s.WebhookEndpointIn, request.data)
        try:
            created = webhook_endpoint_create(partner=self.partner, url=data["url"], event_types=data["event_types"])
        except InvalidWebhook as error:
            raise serializers.ValidationError({"url": [str(error)]}) from error
        body = {**s.WebhookEndpointOut(created.endpoint).data, "secret": created.secret}
        return Response(s.WebhookEndpointCreatedOut(body).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(WebhookView):
    @extend_schema(operation_id="webhooks_retrieve", examples=[examples.WEBHOOK_OUT],
                   responses=s.WebhookEndpointOut, summary="One webhook endpoint")
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(s.WebhookEndpointOut(get_object_or_404(self.endpoints(), pk=endpoint_id)).data)

    @extend_schema(operation_id="webhooks_delete", responses={204: None},
                   summary="Remove a webhook endpoint (no body: nothing to exemplify)")
    @idempotent
    def delete(self, request: Request, endpoint_id: int) -> Response:
        webhook_endpoint_delete(endpoint=get_object_or_404(self.endpoints(), pk=endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(WebhookView):
    @extend_schema(operation_id="webhooks_deliveries", examples=[examples.DELIVERY],
                   responses=s.WebhookDeliveryOut(many=True),
                   parameters=[OpenApiParameter("endpoint_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
                   summary="The 50 latest deliveries to one endpoint")
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = get_object_or_404(self.endpoints(), pk=endpoint_id)
        deliveries = endpoint.deliveries.select_related("event").order_by("-created_at")[:50]
        return Response(s.WebhookDeliveryOut(deliveries, many=True).data)

