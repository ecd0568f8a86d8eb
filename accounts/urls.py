from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("parcels/", views.my_parcels, name="my_parcels"),
    path("preferences/", views.preferences, name="preferences"),
]
