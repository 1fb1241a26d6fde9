"""Remember at sign-in whether the user leads a team, so that the navbar can offer the reports
without a query on every page (`reporting.templatetags.reporting_ui`). The reports page itself
checks afresh on every request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from reporting.selectors import sees_reports

SESSION_KEY = "helpdesk_sees_reports"


@receiver(user_logged_in, dispatch_uid="reporting_remember_reader")
def remember_reader(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = sees_reports(user)
