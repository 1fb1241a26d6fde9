from __future__ import annotations

from django import template
from django.http import HttpRequest

from reporting.selectors import sees_reports

register = template.Library()


@register.simple_tag(takes_context=True)
def user_sees_reports(context: template.Context) -> bool:
    """Whether the current user may open the reports (leads and admins), once per request."""
    request: HttpRequest | None = context.get("request")
    if request is None:
        return False
    if not hasattr(request, "helpdesk_sees_reports"):
        request.helpdesk_sees_reports = sees_reports(request.user)  # type: ignore[attr-defined]
    return request.helpdesk_sees_reports  # type: ignore[attr-defined]
