from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("parcels/", views.my_parcels, name="my_parcels"),
    path("preferences/", views.preferences, name="preferences"),
    path("phone/", views.phone, name="phone"),
    path("phone/confirm/", views.phone_confirm, name="phone_confirm"),
]
