"""The checkout locker picker, mounted at /widget/."""

from django.urls import path

from . import views

app_name = "widget"
urlpatterns = [path("", views.widget, name="picker")]
