"""API tokens: knox's hashed, expiring tokens with a name the owner chose (KNOX_TOKEN_MODEL)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken


class ApiToken(AbstractAuthToken):
    """A personal API token. Only its SHA-512 digest is stored; the secret is shown once, when
    the token is created. `token_key` (its first characters) identifies it in lists."""

    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"
