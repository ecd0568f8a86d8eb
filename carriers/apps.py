from django.apps import AppConfig


class CarriersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "carriers"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from .models import PartnerEvent
        from .webhooks import dispatch_after_commit

        # The lifecycle writes PartnerEvent rows in the parcel's transaction; sending
        # starts once that commits (and the schedule catches anything missed).
        post_save.connect(dispatch_after_commit, sender=PartnerEvent, dispatch_uid="carriers_webhooks_dispatch")
