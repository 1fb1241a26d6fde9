from __future__ import annotations

from django import template
from django.http import HttpRequest
from django.template.base import render_value_in_context
from django.utils.html import format_html

from reporting.selectors import sees_reports
from reporting.signals import SESSION_KEY
from reporting.table import Link
from reporting.templatetags.reporting_email import report_value

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


@register.simple_tag(takes_context=True)
def report_cell(context: template.Context, cell: object) -> str:
    """A cell of a reports table: a `table.Link` as a link, None as a dash, anything else as
    `{{ cell }}` shows it. A tag, not an include: a year's page has about a thousand cells, and
    an include costs as much as the rest of the cell's rendering many times over."""
    if isinstance(cell, Link) and cell.href:
        return format_html(
            '<a href="{}">{}</a>', cell.href, render_value_in_context(cell.value, context)
        )
    if cell is None:
        return "—"
    return render_value_in_context(cell, context)


# The figures of the cards are written as in the weekly email: one function.
register.simple_tag(report_value)
