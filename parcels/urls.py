"""Recipient pages under /p/: the pickup page and its actions."""

from django.urls import path

from . import views

app_name = "parcels"
urlpatterns = [
    path("<str:token>/", views.pickup_page, name="pickup_page"),
    path("<str:token>/extend/", views.pickup_extend, name="pickup_extend"),
    path("<str:token>/change-site/", views.pickup_redirect, name="pickup_redirect"),
    path("<str:token>/problem/", views.pickup_problem, name="pickup_problem"),
]
