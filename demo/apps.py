from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo organisation and its history (`manage.py seed_demo`); no models."""

    name = "demo"
    verbose_name = "Demo"
