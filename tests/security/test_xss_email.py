"""Stored XSS and header injection through the emails: every email the product sends, rendered
with the corpus in every user-writable field it shows.

The world of the page test is filled the same way (every text field found by introspection,
each payload in turn), plus two payloads with line breaks, which only matter in a header.
Then every email flow runs for real and its outbox rows are sent through the outbox's own
senders into Django's test mailbox: a notification of every kind, a digest, the weekly
report, a reply and the "resolved" email to the customer, an incident update and the portal's
sign-in code. For each email:

- the HTML part is parsed like a page: no payload may come out as markup;
- the plain-text part is not HTML-escaped (no `&lt;` where the customer typed `<`);
- the subject is one line, and the headers hold none of the payloads' injected ones.

Which templates exist is read from disk: an email template that no flow here renders fails
the test, so a new email is covered or named here.
"""

from __future__ import annotations

import datetime as dt
from email.utils import getaddresses
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import models
from django.test.signals import template_rendered
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox
from notifications.email import DIGEST
from notifications.models import Delivery, Notification
from portal.signin import code_request
from reporting.models import WeeklyReportSubscription
from reporting.weekly import send_weekly_reports
from tests.security import test_xss
from tests.security.test_xss import CORPUS, text_fields, unsafe_markup
from tests.security.world import build_world
from tickets import services as ticket_services
from tickets.models import Contact, Ticket
from tickets.services import NewTicket

pytestmark = pytest.mark.django_db

# A header injection: only a line break in a header value can add a header or a recipient.
HEADER_PAYLOADS = (
    "Hi\r\nBcc: zqx16@evil.example\r\nX-Zqx16: injected",
    "Hi\nX-Zqx17: injected\n\n<script>alert('zqx17')</script>",
)
EMAIL_CORPUS = CORPUS + HEADER_PAYLOADS
# What HTML-escaping makes of the corpus' characters: none belongs in a plain-text part.
ESCAPES = ("&lt;", "&gt;", "&quot;", "&#x27;", "&#39;", "&amp;")


def email_templates() -> set[str]:
    """Every email template on disk (`<app>/email/<name>.subject.txt|.txt|.html`), without the
    pieces other templates include (`_footer.txt`) or extend (`base.html`)."""
    roots = [Path(d) for t in settings.TEMPLATES for d in t.get("DIRS", [])]
    roots += [Path(c.path) / "templates" for c in apps.get_app_configs()]
    found = set()
    for root in roots:
        if not root.is_dir() or not str(root).startswith(str(settings.BASE_DIR)):
            continue
        for path in root.glob("*/email/*"):
            if path.name.startswith("_") or path.name.startswith("base."):
                continue
            found.add(path.relative_to(root).as_posix())
    return found


def unsafe_text(text: str) -> list[str]:
    """A plain-text part that was HTML-escaped: the reader sees `&lt;script&gt;`."""
    return [f"HTML escape {e!r} in the plain text" for e in ESCAPES if e in text]


def unsafe_headers(message: mail.EmailMessage) -> list[str]:
    """A subject with a line break, or a header or recipient a payload added."""
    found = []
    if "\r" in message.subject or "\n" in message.subject:
        found.append(f"subject with a line break: {message.subject[:60]!r}")
    try:
        built = message.message()
    except Exception as exc:  # BadHeaderError: the email could not be sent at all
        return [*found, f"the message cannot be built: {type(exc).__name__}: {exc}"]
    names = {name.lower() for name in built}
    if {"x-zqx16", "x-zqx17", "bcc"} & names:
        found.append(f"an injected header among {sorted(names)}")
    addresses = getaddresses(built.get_all("To", []) + built.get_all("Cc", []))
    if any("evil" in address for _name, address in addresses):
        found.append(f"an injected recipient among {addresses}")
    return found


def html_part(message: mail.EmailMessage) -> str:
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            return content
    return ""


class Flows:
    """Runs every email flow once per round against the world; the outbox rows they write
    are sent after the payloads are in."""

    def __init__(self, world) -> None:
        self.world = world
        self.owner = world.users["owner"]
        self.admin = world.users["admin"]
        self.contact = world.objects["contact"]
        self.incident = world.objects["incident"]
        self.owners = world.objects["teams"]["owners"]
        WeeklyReportSubscription.objects.get_or_create(user=self.admin)
        # Addresses are validated on input (EmailField): they get no payload, so the emails
        # can be sent at all. Kept as they are now and put back after each fill.
        self.addresses = {
            (model, field.attname): dict(model.objects.values_list("pk", field.attname))
            for model, fields in text_fields().items()
            for field in fields
            if isinstance(field, models.EmailField)
        }

    def run(self, round_: int, now: dt.datetime) -> None:
        """Write the outbox rows of every email of this round."""
        world, owner = self.world, self.owner
        escalation = world.objects["escalation"]
        ticket = world.ticket
        closing = ticket.messages.order_by("pk").first()
        payload = {
            "escalation": escalation.pk,
            "due_at": now.isoformat(),
            "target": "resolution",
            "closing_message": closing.pk,
            "level": 2,
        }
        for kind in Notification.Kind.values:
            outbox.write_emails(
                [owner], kind=kind, ticket=ticket, dedupe_key=f"r{round_}:{kind}",
                payload=payload, now=now, urgent=True, holds={},
            )  # fmt: skip
        # Two held ones become one digest when the owner's hours begin.
        for n in range(2):
            outbox.write_emails(
                [owner], kind=Notification.Kind.SLA_WARNING, ticket=ticket,
                dedupe_key=f"r{round_}:held{n}", payload=payload, now=now - dt.timedelta(hours=1),
                urgent=False, holds={owner.pk: now - dt.timedelta(minutes=1)},
            )  # fmt: skip
        outbox.relay(now=now)
        send_weekly_reports(now)
        # A reply to the customer, and a ticket resolved (the customer's and the agents' emails).
        ticket_services.ticket_reply(ticket=ticket, actor=owner, body=EMAIL_CORPUS[round_])
        fresh = self.new_ticket(round_)
        ticket_services.ticket_transition(ticket=fresh, actor=self.admin, name="resolve")
        # An incident update to the customers of its linked tickets.
        incident_services.incident_link(
            incident=self.incident, tickets=[self.new_ticket(round_)], actor=self.admin
        )
        incident_services.incident_post_update(
            incident=self.incident, actor=self.admin, text=EMAIL_CORPUS[round_]
        )
        address = self.addresses[Contact, "email"][self.contact.pk]
        code_request(address=address, ip=f"10.0.0.{round_}")

    def new_ticket(self, round_: int) -> Ticket:
        return ticket_services.ticket_create(
            actor=self.owner,
            data=NewTicket(
                subject=EMAIL_CORPUS[round_],
                description=EMAIL_CORPUS[round_],
                team=self.owners,
                customer=self.contact.customer,
                requester=self.contact,
            ),
        )

    def restore_addresses(self) -> None:
        for (model, attname), addresses in self.addresses.items():
            for pk, address in addresses.items():
                model.objects.filter(pk=pk).update(**{attname: address})

    def send_all(self) -> None:
        """Send every email row that is due, through the outbox's senders."""
        pending = Delivery.objects.filter(
            channel=Delivery.Channel.EMAIL, status=Delivery.Status.PENDING
        ).values_list("pk", flat=True)
        for pk in pending.order_by("pk"):
            outbox.deliver(pk)


def test_no_payload_comes_out_of_an_email_as_markup_or_a_header(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_CODE_REQUESTS_PER_ADDRESS = settings.PORTAL_CODE_REQUESTS_PER_IP = 1000
    rendered: set[str] = set()

    def seen(sender, template, context, **kwargs):
        rendered.add(template.name)

    template_rendered.connect(seen)
    monkeypatch.setattr(test_xss, "CORPUS", EMAIL_CORPUS)
    try:
        world = build_world()
        flows = Flows(world)
        fields = text_fields()
        problems: list[str] = []
        kinds_sent: set[str] = set()
        texts = htmls = 0
        # A Monday after the weekly report's hour, a week apart per round (one report a week).
        monday = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        monday -= dt.timedelta(days=monday.weekday() + 7 * len(EMAIL_CORPUS))
        for round_ in range(len(EMAIL_CORPUS)):
            now = monday + dt.timedelta(days=7 * round_)
            mail.outbox.clear()
            assert test_xss.fill(round_, fields) > 50
            flows.restore_addresses()
            # The flows' rows are sent on commit (the broker runs tasks eagerly in tests);
            # whatever is still due afterwards is sent here.
            before = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            with django_capture_on_commit_callbacks(execute=True):
                flows.run(round_, now)
            flows.send_all()
            for kind, status, error in Delivery.objects.filter(
                channel=Delivery.Channel.EMAIL, pk__gt=before
            ).values_list("kind", "status", "last_error"):
                if status in (Delivery.Status.SENT, Delivery.Status.DIGESTED):
                    kinds_sent.add(kind)
                else:
                    problems.append(f"round {round_}: {kind} not sent ({status}): {error}")
            for message in mail.outbox:
                where = f"round {round_}: email {message.subject[:50]!r}"
                problems += [f"{where}: {p}" for p in unsafe_headers(message)]
                problems += [f"{where}: {p}" for p in unsafe_text(message.body)]
                problems += [f"{where}: {p}" for p in unsafe_markup(html_part(message))]
                texts += "zqx" in message.body
                htmls += "zqx" in html_part(message)
    finally:
        template_rendered.disconnect(seen)
    # The controls: every email template was rendered, every notification kind and the
    # digest went out, and the payloads reached both parts.
    assert not problems, "\n".join(sorted(set(problems)))
    assert email_templates() - rendered == set(), "email templates no flow here renders"
    assert set(Notification.Kind.values) | {DIGEST} <= kinds_sent
    assert texts and htmls


def test_the_email_checks_find_what_they_look_for():
    """The control of the checks: an escaped plain text, an unescaped HTML part and an
    injected header are each found."""
    assert unsafe_text("Re: &lt;script&gt;alert('zqx1')&lt;/script&gt;")
    assert unsafe_markup("<p><img src=x onerror=alert('zqx2')></p>")
    message = mail.EmailMessage(subject="Hi", body="x", to=["a@desk.example"])
    message.extra_headers["X-Zqx16"] = "injected"
    assert unsafe_headers(message)
    message = mail.EmailMessage(subject=HEADER_PAYLOADS[0], body="x", to=["a@desk.example"])
    assert unsafe_headers(message)
    assert not unsafe_headers(mail.EmailMessage(subject="Hi", body="x", to=["a@desk.example"]))
