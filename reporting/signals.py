"""Receivers of the reporting app.

- Remember at sign-in whether the user leads a team, so that the navbar can offer the reports
  without a query on every page (`reporting.templatetags.reporting_ui`). The reports page
  itself checks afresh on every request.
- Mark the local days whose rolled-up figures a write changes that does not touch the ticket's
  `updated_at` (`reporting.models.DirtyDay`), from the model signals the lower apps' writes
  send (the lower apps never import reporting): an escalation saved or removed (its days of
  raising, acknowledgement and acknowledgement deadline), a rating (its day), a closing report
  written or removed (its ticket's resolution day). One INSERT in the write's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from escalation.models import Escalation
from lessons.models import ClosingReport
from portal.models import Rating
from reporting.models import DirtyDay
from reporting.selectors import sees_reports
from reporting.trends import site_zone
from tickets.models import Ticket

SESSION_KEY = "helpdesk_sees_reports"


@receiver(user_logged_in, dispatch_uid="reporting_remember_reader")
def remember_reader(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = sees_reports(user)


def mark_days(*instants: dt.datetime | None) -> None:
    """Mark the local days of `instants` (None left out) to be rolled up again. One INSERT."""
    zone = site_zone()
    days = {instant.astimezone(zone).date() for instant in instants if instant is not None}
    if days:
        DirtyDay.objects.bulk_create(DirtyDay(day=day) for day in sorted(days))


@receiver(post_save, sender=Escalation, dispatch_uid="reporting_escalation_saved")
@receiver(post_delete, sender=Escalation, dispatch_uid="reporting_escalation_removed")
def escalation_written(sender: Any, instance: Escalation, **kwargs: Any) -> None:
    mark_days(instance.raised_at, instance.acknowledged_at, instance.ack_due_at)


@receiver(post_save, sender=Rating, dispatch_uid="reporting_rating_saved")
@receiver(post_delete, sender=Rating, dispatch_uid="reporting_rating_removed")
def rating_written(sender: Any, instance: Rating, **kwargs: Any) -> None:
    mark_days(instance.created_at)


@receiver(post_save, sender=ClosingReport, dispatch_uid="reporting_closing_report_saved")
@receiver(post_delete, sender=ClosingReport, dispatch_uid="reporting_closing_report_removed")
def closing_report_written(
    sender: Any, instance: ClosingReport, created: bool = True, **kwargs: Any
) -> None:
    """The closing-report share counts whether a report exists, under the resolution day: only
    writing the report's row the first time, or removing it, changes it (a new version of the
    text does not)."""
    if not created:
        return
    if ClosingReport.ticket.is_cached(instance):
        resolved = instance.ticket.resolved_at
    else:
        ticket = Ticket.objects.filter(pk=instance.ticket_id)
        resolved = ticket.values_list("resolved_at", flat=True).first()
    mark_days(resolved)
