"""The product's routes plus the bench's reference views (bench server only)."""

from django.urls import path

from lockers_site.urls import urlpatterns as product_urlpatterns

from .views import SignedFloor, bare

# The signed floor sits under the device API's prefix, where lockers sign their requests.
urlpatterns = [
    path("bench/bare", bare, name="bench-bare"),
    path("api/device/v1/bench/signed", SignedFloor.as_view(), name="bench-signed"),
    *product_urlpatterns,
]
