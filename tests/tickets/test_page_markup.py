"""The ticket page's parts written by code are the markup the templates they replaced wrote.

The timeline entries (`timeline_ui`), the SLA badge (`tickets_ui.sla_badge`) and the form field
component (`tickets_ui.form_field`) were template includes; the templates are kept under
`replaced_templates/` and rendered here, through
Django's template engine with the project's tag libraries, beside the code, for a timeline
with every kind of entry (and user text that must be escaped) and for badges in every state,
in English and German. Markup is compared as parsed HTML: tags, attributes, text, and whether
there is whitespace between two pieces (which a browser shows as a space), not how much.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Engine, engines
from django.utils import timezone, translation

from escalation import services as escalation_services
from escalation.handoff import Package
from tests.factories import CustomerFactory, SupportLevelFactory, TeamFactory, UserFactory
from tickets import selectors, services
from tickets.models import Message, TicketEvent
from tickets.selectors import SlaBadge, SlaState
from tickets.templatetags.tickets_ui import (
    SLA_COLOURS,
    form_field,
    sla_badge,
    sla_badge_text,
    sla_badge_title,
    time_element,
)
from tickets.templatetags.timeline_ui import attachment_list, timeline_entry

REPLACED = Path(__file__).parent / "replaced_templates"


def reference_engine() -> Engine:
    """Django's engine with the project's tag libraries, reading only the replaced templates."""
    return Engine(dirs=[str(REPLACED)], libraries=engines["django"].engine.libraries)


class Markup(HTMLParser):
    """HTML as a list of pieces: start tags with sorted attributes, end tags, and the text
    between them with each run of whitespace as one space (whitespace alone between two tags
    is " ": a browser may show it as a space)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[tuple[str, ...]] = []
        self.text = ""

    def flush(self) -> None:
        if self.text:
            self.pieces.append(("text", re.sub(r"\s+", " ", self.text)))
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.flush()
        self.pieces.append(("start", tag, *sorted(f"{k}={v}" for k, v in attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.flush()
        self.pieces.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.text += data

    @classmethod
    def of(cls, html: str) -> list[tuple[str, ...]]:
        parser = cls()
        parser.feed(str(html))
        parser.close()
        parser.flush()
        # Whitespace around a whole fragment is the include's, not the markup's.
        pieces = parser.pieces
        if pieces and pieces[0][0] == "text":
            pieces[0] = ("text", pieces[0][1].lstrip())
        if pieces and pieces[-1][0] == "text":
            pieces[-1] = ("text", pieces[-1][1].rstrip())
        return [p for p in pieces if p != ("text", "")]


def test_the_comparison_sees_a_changed_class_text_or_space():
    base = Markup.of('<p class="a b">Hi <b>there</b></p>')
    assert Markup.of('<p  class="a b">Hi\n  <b>there</b></p>') == base
    assert Markup.of('<p class="a">Hi <b>there</b></p>') != base
    assert Markup.of('<p class="a b">Hi<b>there</b></p>') != base
    assert Markup.of('<p class="a b">Ho <b>there</b></p>') != base


@pytest.fixture
def worked_ticket(agent, team_a, settings, tmp_path):
    """A ticket whose timeline has every kind of entry: the creation with an assignee, a first
    response with a file, a note, a customer email and a customer message written on the phone
    with a link, status and priority changes, an escalation with its hand-off folded under it,
    a rule's reason worded from facts, and text that must be escaped."""
    settings.MEDIA_ROOT = tmp_path
    level2 = SupportLevelFactory(rank=2)
    lead2 = UserFactory(first_name="Lee", last_name="<b>Lead</b>")
    team2 = TeamFactory(name="Second & level", level=level2, lead=lead2, members=[lead2])
    team_a.escalates_to = team2
    team_a.save()
    ticket = services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject="Shop <down>",
            description="See https://example.com/a/very/long/path/that/is/cut/at/sixty/chars/x",
            team=team_a,
            customer=CustomerFactory(),
            assignee=agent,
        ),
        attachments=[SimpleUploadedFile("screen shot.png", b"x" * 2048)],
    )
    services.ticket_reply(
        ticket=ticket,
        actor=agent,
        body="Line one\nLine <two> & https://example.com/x",
        attachments=[SimpleUploadedFile("log <1>.txt", b"y" * 10)],
    )
    services.ticket_add_note(ticket=ticket, actor=agent, body="Note: <script>alert(1)</script>")
    ticket.refresh_from_db()
    Message.objects.create(
        ticket=ticket, kind=Message.Kind.CUSTOMER, body="By mail", intent="mail:<abc@x>"
    )
    Message.objects.create(
        ticket=ticket, kind=Message.Kind.CUSTOMER, body="Called in", author_name="Carla"
    )
    services.ticket_transition(ticket=ticket, actor=agent, name="open")
    ticket.refresh_from_db()
    escalation_services.escalation_raise(
        ticket=ticket,
        actor=agent,
        kind="hierarchical",
        reason="Needs the experts",
        package=Package(summary="Shop down", actions_taken="Restarted it"),
    )
    ticket.refresh_from_db()
    services.ticket_change_priority(
        ticket=ticket, actor=lead2, reason="Whole shop <affected>", impact=1, urgency=2
    )
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.ASSIGNED,
        payload={
            "from": "",
            "to": "Lee",
            "reason": "stored words",
            "reason_facts": {
                "trigger": "no_progress",
                "detail": 3600.0,
                "rule": 1,
                "rule_name": "Stuck",
                "rule_name_de": "Festgefahren",
            },
        },
    )
    return ticket


@pytest.mark.parametrize("language", ["en", "de"])
def test_timeline_entries_are_the_templates_markup(worked_ticket, language):
    engine = reference_engine()
    message_template = engine.get_template("tickets/_timeline_message.html")
    event_template = engine.get_template("tickets/_timeline_event.html")
    with translation.override(language):
        timeline = selectors.ticket_page_timeline(worked_ticket)
        entries = timeline.entries
        kinds = {e.message.kind if e.message else e.event.kind for e in entries}
        assert {"note", "customer", "reply", "created", "escalated", "priority_changed"} <= kinds
        assert any(e.parts for e in entries) and any(e.attachments for e in entries)
        assert any(e.first_response for e in entries)
        for entry in entries:
            if entry.message is not None:
                context = {
                    "ticket": worked_ticket,
                    "message": entry.message,
                    "first_response": entry.first_response,
                    "attachments": entry.attachments,
                }
                expected = message_template.render(Context(context))
            else:
                context = {"ticket": worked_ticket, "event": entry.event, "parts": entry.parts}
                expected = event_template.render(Context(context))
            written = timeline_entry(entry, worked_ticket.reference)
            assert Markup.of(written) == Markup.of(expected), expected
        loose = timeline.loose_attachments
        assert loose
        expected = engine.get_template("tickets/_attachments.html").render(
            Context({"ticket": worked_ticket, "attachments": loose})
        )
        assert Markup.of(attachment_list(worked_ticket.reference, loose)) == Markup.of(expected)


def badges() -> list[SlaBadge]:
    now = timezone.now()
    due = now + timedelta(hours=2)
    return [
        SlaBadge(SlaState.RUNNING, "resolution", due, due - now),
        SlaBadge(SlaState.WARNING, "first_response", due, due - now, business=True),
        SlaBadge(SlaState.BREACHED, "next_update", now - timedelta(minutes=5), timedelta(-1)),
        SlaBadge(SlaState.PAUSED, "resolution", None, None, paused_since=now),
        SlaBadge(
            SlaState.RUNNING,
            "resolution",
            due,
            due - now,
            paused_since=now,
            breached_before=("first_response", "next_update"),
        ),
    ]


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("with_target", [False, True])
def test_sla_badges_are_the_templates_markup(language, with_target):
    template = reference_engine().get_template("components/sla_badge.html")
    with translation.override(language):
        assert Markup.of(sla_badge(None)) == Markup.of(template.render(Context({"badge": None})))
        for badge in badges():
            context = {
                "badge": badge,
                "text": sla_badge_text(badge, with_target),
                "title": sla_badge_title(badge),
                "colour": SLA_COLOURS[badge.state],
            }
            expected = template.render(Context(context))
            assert Markup.of(sla_badge(badge, with_target)) == Markup.of(expected), expected


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_time_elements_are_the_includes_markup(language, zone):
    # `components/datetime.html` stays (other pages include it); the tag must write the same.
    template = engines["django"].engine.get_template("components/datetime.html")
    now = timezone.now()
    instants = [now, now - timedelta(days=400, hours=5), now.replace(month=3, day=29, hour=1)]
    with translation.override(language), timezone.override(zone):
        for value in instants:
            for relative in (False, True):
                expected = template.render(Context({"value": value, "relative": relative}))
                assert Markup.of(time_element(value, relative)) == Markup.of(expected)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "de"])
def test_form_fields_are_the_includes_markup(language, team_a):
    from mail.forms import CcForm
    from tickets.forms import AssignForm, MessageForm

    template = reference_engine().get_template("components/form_field.html")
    with translation.override(language):
        forms = [
            MessageForm(),
            MessageForm({"body": "", "internal": "on"}),  # errors, a checkbox with help text
            AssignForm({"team": "x", "reason": "<b>"}, teams=[team_a]),
            CcForm({"email": "not <an> address"}),  # and a hidden field
        ]
        options = [{}, {"small": True}, {"wrapper_class": "mb-0", "small": True}, {"switch": True}]
        for form in forms:
            if form.is_bound:
                form.is_valid()  # the errors are part of what is shown
            assert any(field.errors for field in form) or not form.is_bound
            for field in form:
                for option in options:
                    expected = template.render(Context({"field": field, **option}))
                    written = form_field(field, **option)
                    assert Markup.of(written) == Markup.of(expected), expected
