"""API tokens, and the stored answers of POST requests made with an `Idempotency-Key`."""

from __future__ import annotations

from django.conf import settings
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


class IdempotencyKey(models.Model):
    """One POST made with an `Idempotency-Key` header (`api.idempotency`): what was asked
    (method, path, a fingerprint of the body) and, once answered, the answer, replayed to a
    retry with the same key for IDEMPOTENCY_KEY_TTL. `status` is None while the first request
    is still running (its transaction holds the row)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    key = models.CharField(_("key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=2000)
    fingerprint = models.CharField(_("body fingerprint"), max_length=64)
    status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"
