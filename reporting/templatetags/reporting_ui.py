from __future__ import annotations

from django import template
from django.http import HttpRequest

from reporting.selectors import sees_reports
from reporting.signals import SESSION_KEY

register = template.Library()


@register.simple_tag(takes_context=True)
def user_sees_reports(context: template.Context) -> bool:
    """Whether to offer the reports (leads and admins) in the navbar: as remembered at sign-in
    (a lead appointed since sees the link after signing in again; the page checks afresh)."""
    request: HttpRequest | None = context.get("request")
    if request is None or not request.user.is_authenticated:
        return False
    if request.user.is_superuser:
        return True
    if hasattr(request, "helpdesk_sees_reports"):  # set by the reports page itself
        return request.helpdesk_sees_reports  # type: ignore[attr-defined]
    session = getattr(request, "session", None)
    if session is None:
        return sees_reports(request.user)
    if SESSION_KEY not in session:  # signed in before this was remembered
        session[SESSION_KEY] = sees_reports(request.user)
    return bool(session[SESSION_KEY])
