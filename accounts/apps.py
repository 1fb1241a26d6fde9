from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Sign-in of agents and admins: the two-step login, TOTP two-factor and the lock-out page."""

    name = "accounts"
    verbose_name = _("Sign-in")
