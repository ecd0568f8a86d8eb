from django.apps import AppConfig


class CarriersConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'carriers'
