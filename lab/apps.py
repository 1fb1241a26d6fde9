from django.apps import AppConfig


class LabConfig(AppConfig):
    """The rule lab: the escalation configuration as a file (export, diff, import)."""

    name = "lab"
