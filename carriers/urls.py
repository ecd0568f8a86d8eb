"""Partner portal pages, mounted at /partners/."""

from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.portal_index, name="index"),
    path("<slug:slug>/", views.portal_home, name="home"),
    path("<slug:slug>/keys/", views.api_key_new, name="key-new"),
    path("<slug:slug>/keys/<int:key_id>/revoke/", views.api_key_end, name="key-revoke"),
    path("<slug:slug>/webhooks/", views.webhook_new, name="webhook-new"),
    path("<slug:slug>/webhooks/<int:endpoint_id>/delete/", views.webhook_end, name="webhook-delete"),
]
