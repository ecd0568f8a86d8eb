"""Routes of the device API, mounted at /api/device/v1/ (no trailing slashes: devices sign the exact path)."""

from django.urls import path

from . import views

app_name = "device"

# The busiest first (Django tries them in order): every locker's heartbeat, every recipient's code.
urlpatterns = [
    path("heartbeat", views.HeartbeatView.as_view(), name="heartbeat"),
    path("codes/pickup", views.PickupCodeView.as_view(), name="pickup-code"),
    path("provision", views.ProvisionView.as_view(), name="provision"),
    path("credentials/rotate", views.RotateSecretView.as_view(), name="rotate"),
    path("bundle", views.BundleView.as_view(), name="bundle"),
    path("codes/drop-off", views.DropOffCodeView.as_view(), name="drop-off-code"),
    path("courier/sign-in", views.CourierSignInView.as_view(), name="courier-sign-in"),
    path("courier/parcels", views.CourierParcelsView.as_view(), name="courier-parcels"),
    path("courier/deposit", views.CourierDepositView.as_view(), name="courier-deposit"),
    path("courier/door-problem", views.CourierDoorProblemView.as_view(), name="courier-door-problem"),
    path("courier/collect", views.CourierCollectView.as_view(), name="courier-collect"),
    path("events", views.EventsView.as_view(), name="events"),
    path("commands/<int:command_id>/ack", views.CommandAckView.as_view(), name="command-ack"),
]
