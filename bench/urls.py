"""The product's routes plus the bare view the hot paths are compared with (bench server only)."""

from django.urls import path

from lockers_site.urls import urlpatterns as product_urlpatterns

from .views import bare

urlpatterns = [path("bench/bare", bare, name="bench-bare"), *product_urlpatterns]
