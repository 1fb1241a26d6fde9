"""The sweep's heartbeat: one row, written when a sweep ends, read by `/healthz` and `/metrics`.

The sweep runs in a worker, the metrics are read in the web process: the figures that must
cross that gap (when the last sweep ended, how long it took, running totals) live in the
database, so they survive restarts and every web process reports the same."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SweepHeartbeat(models.Model):
    """Running totals of the escalation sweeps and the last one's figures (a single row)."""

    ONE = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONE, editable=False)
    runs = models.PositiveBigIntegerField(_("sweeps"), default=0)
    examined = models.PositiveBigIntegerField(_("tickets examined"), default=0)
    fired = models.PositiveBigIntegerField(_("rules fired"), default=0)
    failed = models.PositiveBigIntegerField(_("tickets failed"), default=0)
    seconds = models.FloatField(_("seconds swept"), default=0.0)
    last_started_at = models.DateTimeField(_("last sweep started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last sweep finished"), null=True, blank=True)
    last_duration = models.FloatField(_("last sweep's duration (s)"), default=0.0)

    class Meta:
        verbose_name = _("sweep heartbeat")
        verbose_name_plural = _("sweep heartbeats")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="sweep_heartbeat_one")]

    def __str__(self) -> str:
        return f"{self.runs} sweeps, last {self.last_finished_at}"
