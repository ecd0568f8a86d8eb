from django.apps import AppConfig


class LockersConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'lockers'
