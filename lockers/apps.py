from django.apps import AppConfig


class LockersConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'lockers'

    def ready(self) -> None:
        # Connects the receivers that keep workers' cached device credentials honest.
        from lockers.device import store  # noqa: F401
