from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import home

urlpatterns = [
    # Signed device API for the lockers themselves (lockers.device). First: Django tries the
    # patterns in order, and the network's busiest requests are its lockers' (the order does
    # not change which pattern a path matches, as no other prefix overlaps this one).
    path("api/device/v1/", include("lockers.device.urls")),
    path("", home, name="home"),
    # Everyone signs in through allauth, so staff get its MFA step (issue 6).
    path("admin/login/", RedirectView.as_view(pattern_name="account_login", query_string=True)),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    # Recipient pickup pages: /p/<token>/ (parcels.views).
    path("p/", include("parcels.urls")),
    # SMS gateway webhooks: STOP / START replies (notifications.views).
    path("notifications/", include("notifications.urls")),
    # Partner API, its schema and docs, partner portal and checkout widget (carriers).
    path("api/v1/", include("carriers.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("partners/", include("carriers.urls")),
    path("widget/", include("carriers.widget_urls")),
    # Retailers' click-and-collect dashboard for store staff (carriers.dashboard).
    path("store/", include("carriers.dashboard.urls")),
]
