from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabConfig(AppConfig):
    """The rule lab: the escalation configuration as a file (export, diff, import), drafts of
    it beside the live one, and the versions every published change leaves."""

    name = "lab"
    verbose_name = _("Rule lab")
