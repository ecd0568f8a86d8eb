"""Routes of the partner API, mounted at /api/v1/."""

from django.http import HttpRequest
from django.urls import path, re_path, register_converter
from rest_framework.decorators import api_view, authentication_classes, permission_classes, schema
from rest_framework.exceptions import NotFound

from . import views


class IdConverter:
    """A database id: at most 18 digits, so an absurd number is a 404, never an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
@schema(None)
def unknown_path(request: HttpRequest) -> None:
    """Any other path under /api/v1/ is a problem-details 404, like every API error."""
    raise NotFound()


app_name = "partner-api"
urlpatterns = [
    path("statuses/", views.StatusCatalogueView.as_view(), name="statuses"),
    path("public/sites/", views.PublicSiteSearchView.as_view(), name="public-sites"),
    path("sites/", views.SiteSearchView.as_view(), name="sites"),
    path("sites/<id:site_id>/", views.SiteDetailView.as_view(), name="site"),
    path("parcels/", views.ParcelListCreateView.as_view(), name="parcels"),
    path("parcels/by-reference/<str:reference>/", views.ParcelByReferenceView.as_view(), name="parcel-by-reference"),
    path("parcels/<id:parcel_id>/", views.ParcelDetailView.as_view(), name="parcel"),
    path("parcels/<id:parcel_id>/timeline/", views.ParcelTimelineView.as_view(), name="parcel-timeline"),
    path("parcels/<id:parcel_id>/cancel/", views.ParcelCancelView.as_view(), name="parcel-cancel"),
    path("parcels/<id:parcel_id>/reserve/", views.ParcelReserveView.as_view(), name="parcel-reserve"),
    path("parcels/<id:parcel_id>/redirect/", views.ParcelRedirectView.as_view(), name="parcel-redirect"),
    path("parcels/<id:parcel_id>/extend/", views.ParcelExtendView.as_view(), name="parcel-extend"),
    path("returns/", views.ReturnAnnounceView.as_view(), name="returns"),
    path("returns/<id:parcel_id>/dropoff-code/", views.DropOffCodeView.as_view(), name="return-dropoff-code"),
    path("webhooks/", views.WebhookListCreateView.as_view(), name="webhooks"),
    path("webhooks/<id:endpoint_id>/", views.WebhookDetailView.as_view(), name="webhook"),
    path("webhooks/<id:endpoint_id>/deliveries/", views.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    re_path(r"", unknown_path),
]
