"""The ticket page's timeline as code: `{% load timeline_ui %}{% timeline_entry entry %}`.

A page shows one entry per message and per action, often dozens; as template includes each
cost several times the markup it writes (an include, a context, a dozen tags and filters per
entry). These functions write the same markup directly. The wording is `tickets_ui`'s
(`describe_event`, `action_reason`) and `escalation.wording`'s; everything user-supplied is
escaped by `format_html`. `tests/tickets/test_timeline_markup.py` renders the templates these
functions replaced and compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django import template
from django.template.defaultfilters import filesizeformat, linebreaksbr, urlizetrunc
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from escalation import wording
from tickets.models import Attachment, Message, TicketEvent
from tickets.selectors import TimelineEntry
from tickets.templatetags.tickets_ui import action_reason, describe_event, time_element

register = template.Library()

# The attachment icon (a paper clip), drawn by CSS colour.
_CLIP = (
    '<svg class="icon-attachment" aria-hidden="true" viewBox="0 0 16 16" width="14" height="14">'
    '<path fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round" '
    'd="M10.5 4.5 5.6 9.4a1.5 1.5 0 0 0 2.1 2.1l5-5a3 3 0 0 0-4.2-4.2l-5 5a4.5 4.5 0 0 0 6.4 '
    '6.4l4.2-4.2"/></svg>'
)


def _join(parts: Iterable[str], separator: str = "") -> SafeString:
    """Markup pieces as one (each escaped unless it is safe already). The separator " " stands
    where the templates had white space between two elements, which a browser may show."""
    return format_html_join(separator, "{}", ((part,) for part in parts))


def message_body(body: str) -> SafeString:
    """A message's text as the page shows it: escaped, links made clickable (shortened to 60
    characters), line breaks kept."""
    return linebreaksbr(urlizetrunc(body, 60, autoescape=True), autoescape=True)


@register.simple_tag
def attachment_list(reference: str, attachments: Sequence[Attachment]) -> SafeString:
    """The download links of a message's (or the ticket's own) files."""
    items = (
        format_html(
            '<li class="d-inline-block me-3"> ' + _CLIP + ' <a href="{}" download>{}</a> '
            '<span class="text-body-secondary">({})</span> </li>',
            reverse("tickets:attachment", args=[reference, attachment.pk]),
            attachment.original_name,
            filesizeformat(attachment.size),
        )
        for attachment in attachments
    )
    return format_html(
        '<ul class="attachments list-unstyled small mt-3 mb-0" aria-label="{}"> {} </ul>',
        _("Attachments"),
        _join(items, " "),
    )


def _kind_badge(message: Message) -> SafeString:
    if message.kind == Message.Kind.NOTE:
        return format_html('<span class="badge text-bg-warning">{}</span>', _("Internal note"))
    if message.kind == Message.Kind.CUSTOMER:
        return format_html('<span class="badge text-bg-info">{}</span>', _("Customer message"))
    return format_html('<span class="badge text-bg-primary">{}</span>', _("Public reply"))


def message_entry(
    message: Message, reference: str, *, first_response: bool, attachments: Sequence[Attachment]
) -> SafeString:
    """One message of the timeline: author, kind, when, the text and its files."""
    header = [
        format_html("<strong>{}</strong>", message.display_author),
        _kind_badge(message),
    ]
    if first_response:
        header.append(
            format_html('<span class="badge text-bg-light border">{}</span>', _("First response"))
        )
    if message.kind == Message.Kind.CUSTOMER and (message.intent or "")[:5] == "mail:":
        header.append(
            format_html(
                '<a class="small" href="{}">{}</a>',
                reverse("mail:message_original", args=[message.pk]),
                _("Original email"),
            )
        )
    header.append(
        format_html(
            '<span class="ms-auto small text-body-secondary">{}</span>',
            time_element(message.created_at),
        )
    )
    return format_html(
        '<article class="message card shadow-sm message-{}" id="message-{}"> '
        '<div class="card-body py-3"> '
        '<header class="d-flex flex-wrap align-items-center gap-2 mb-2"> {} </header> '
        '<div class="message-body">{}</div> {} '
        "</div> </article>",
        message.kind,
        message.pk,
        _join(header, " "),
        message_body(message.body),
        attachment_list(reference, attachments) if attachments else "",
    )


def event_entry(event: TicketEvent, parts: Sequence[TicketEvent]) -> SafeString:
    """One action of the timeline: the sentence of the event that names it, when, its reason
    and details; the other events the same action wrote folded under it."""
    described = describe_event(event)
    payload = event.payload if isinstance(event.payload, dict) else {}
    # A rule's reason is worded now from the stored facts; a person's as they wrote it.
    reason = wording.reason_text(payload.get("reason_facts"), action_reason(event, list(parts)))
    body = [
        format_html('<span class="event-sentence">{}</span>', described.sentence),
        format_html(
            '<span class="text-body-secondary ms-1">{}</span>', time_element(event.created_at)
        ),
    ]
    if reason:
        body.append(
            format_html(
                '<div class="event-reason text-body-secondary">{}</div>',
                _("Reason: %(reason)s") % {"reason": reason},
            )
        )
    if described.details:
        body.append(
            format_html(
                '<ul class="list-inline text-body-secondary mb-0"> {} </ul>',
                format_html_join(
                    " ",
                    '<li class="list-inline-item"><span class="fw-medium">{}</span> {}</li>',
                    described.details,
                ),
            )
        )
    if parts:
        summary = ngettext("%(counter)s more change", "%(counter)s more changes", len(parts)) % {
            "counter": len(parts)
        }
        items = []
        for part in parts:
            view = describe_event(part)
            details = format_html_join("", ' · <span class="fw-medium">{}</span> {}', view.details)
            items.append(
                format_html(
                    '<li class="event-part event-{}">{}{}</li>', part.kind, view.sentence, details
                )
            )
        body.append(
            format_html(
                '<details class="event-parts text-body-secondary"> <summary>{}</summary> '
                '<ul class="mb-0"> {} </ul> </details>',
                summary,
                _join(items),
            )
        )
    return format_html(
        '<div class="event event-{} d-flex gap-2 small"> '
        '<span class="event-dot" aria-hidden="true"></span> '
        '<div class="flex-grow-1"> {} </div> </div>',
        event.kind,
        _join(body, " "),
    )


@register.simple_tag
def timeline_entry(entry: TimelineEntry, reference: str) -> SafeString:
    """A row of the ticket timeline (`tickets.selectors.TimelineEntry`), without its `<li>`."""
    if entry.message is not None:
        return message_entry(
            entry.message,
            reference,
            first_response=entry.first_response,
            attachments=entry.attachments,
        )
    assert entry.event is not None
    return event_entry(entry.event, entry.parts)
