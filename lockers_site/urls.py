from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Signed device API for the lockers themselves (lockers.device).
    path("api/device/v1/", include("lockers.device.urls")),
]
