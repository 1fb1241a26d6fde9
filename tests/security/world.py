"""One object of every kind, and a client per role, for the generated security checks.

The ticket `T` was opened by team "Former" (1st level) and escalated to team "Owners" (2nd
level): its former holder keeps reading it, the 1st-level team "Others" never could. It has
a closing report with one open preventive measure of the owner's. Its
description, public reply and internal note carry markers, so a test can tell whether a
response holds anything of it. Every secret the product keeps (an API token, a webhook
signing secret, a mailbox credential, a password) is a known string here, so a test can look
for it in every answer, export, email and log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from escalation import services as escalation_services
from escalation.handoff import Package
from incidents import services as incident_services
from lessons import services as lessons_services
from lessons.models import CauseCategory
from mail.models import Mailbox
from notifications.models import Notification, WebhookEndpoint
from portal.session import CHECK_KEY, CONTACT_KEY, contact_check
from tests.factories import AdminFactory, CustomerFactory, UserFactory
from tests.knowledge.articles import make_article
from tickets import services as ticket_services
from tickets.models import Contact, SavedView, Service, SupportLevel, Team, Ticket
from tickets.services import NewTicket

# What a response may hold of the ticket depends on who asks (see `Markers`).
CONTENT_MARKER = "zqcontentmarker"  # description and public reply: readers and the requester
NOTE_MARKER = "zqnotemarker"  # internal note: readers only
PASSWORD = "Pw-zqpasswordmarker-1"
WEBHOOK_SECRET = "whsec_" + "zqwebhooksecretmarker0123456789abcdefAB"

# The roles the brief names, each of which must be refused what is not theirs.
DENIED_ROLES = (
    "former",  # a member of the team that held the ticket before: reads, never moves it
    "other_agent",  # an agent of another team
    "other_lead",  # the lead of another team
    "viewonly",  # staff with only the permission to view every ticket, in no team
    "contact_other",  # a portal contact of another organisation
    "anonymous",
    "expired_token",  # an API token of the owner, expired
    "revoked_token",  # an API token of the owner, revoked
    "deactivated",  # a session of a member of the owning team, deactivated since
)
# Positive controls: they may do what the routes offer, so a URL that no longer resolves
# to the object (everyone 404) fails instead of passing silently.
ALLOWED_ROLES = ("owner", "admin", "contact")
ROLES = ALLOWED_ROLES + DENIED_ROLES
AGENTS = frozenset({"owner", "admin", "former", "other_agent", "other_lead"})
READERS = frozenset({"owner", "admin", "former", "viewonly"})


@dataclass
class World:
    ticket: Ticket
    users: dict[str, Any]
    clients: dict[str, Client]
    objects: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)

    def markers_hidden_from(self, role: str) -> list[str]:
        """The strings of `T` that a response to `role` must not hold."""
        hidden = []
        if role not in READERS:
            hidden.append(NOTE_MARKER)
        if role not in READERS | {"contact"}:
            hidden.append(CONTENT_MARKER)
        if role not in AGENTS | READERS | {"contact"}:
            # Every agent may find the ticket's ownership card (reference, subject, owner).
            hidden.append(self.ticket.reference)
        return hidden


def build_world(settings_obj: Any = None) -> World:
    levels = {lv.rank: lv for lv in SupportLevel.objects.all()}
    if 1 not in levels or 2 not in levels:
        levels[1] = SupportLevel.objects.get_or_create(rank=1, defaults={"name": "L1"})[0]
        levels[2] = SupportLevel.objects.get_or_create(rank=2, defaults={"name": "L2"})[0]
    users = {
        "owner": UserFactory(username="sec-owner", password=PASSWORD),
        "owner_lead": UserFactory(username="sec-owner-lead"),
        "former": UserFactory(username="sec-former"),
        "other_agent": UserFactory(username="sec-other"),
        "other_lead": UserFactory(username="sec-other-lead"),
        "viewonly": UserFactory(username="sec-viewonly", is_staff=True),
        "deactivated": UserFactory(username="sec-gone"),
        "admin": AdminFactory(username="sec-admin"),
    }
    view_perms = Permission.objects.filter(codename__startswith="view_")
    users["viewonly"].user_permissions.add(*view_perms)
    owners = Team.objects.create(name="Owners", level=levels[2], lead=users["owner_lead"])
    owners.members.add(users["owner"], users["deactivated"])
    former = Team.objects.create(name="Former", level=levels[1], escalates_to=owners)
    former.members.add(users["former"])
    others = Team.objects.create(name="Others", level=levels[1], lead=users["other_lead"])
    others.members.add(users["other_agent"])

    org_a = CustomerFactory(name="Org A")
    org_b = CustomerFactory(name="Org B")
    contact = Contact.objects.create(customer=org_a, name="Req A", email="req@a.example")
    contact_other = Contact.objects.create(customer=org_b, name="Other B", email="o@b.example")

    ticket = ticket_services.ticket_create(
        actor=users["former"],
        data=NewTicket(
            subject="Printer on fire",
            description=f"The printer burns ({CONTENT_MARKER}).",
            team=former,
            customer=org_a,
            requester=contact,
        ),
        attachments=[SimpleUploadedFile("log.txt", CONTENT_MARKER.encode(), "text/plain")],
    )
    ticket_services.ticket_reply(
        ticket=ticket, actor=users["former"], body=f"On it {CONTENT_MARKER}"
    )
    ticket_services.ticket_add_note(
        ticket=ticket, actor=users["former"], body=f"psst {NOTE_MARKER}"
    )
    escalation = escalation_services.escalation_raise(
        ticket=Ticket.objects.get(pk=ticket.pk),
        actor=users["former"],
        kind="hierarchical",
        package=Package(summary="It burns.", actions_taken="Water."),
    )
    ticket.refresh_from_db()
    ticket_services.ticket_assign(ticket=ticket, actor=users["owner_lead"], assignee=users["owner"])
    ticket.refresh_from_db()

    service = Service.objects.create(name="Printing", owning_team=owners)
    incident = incident_services.incident_declare(
        actor=users["admin"], title="Printers down", severity=2, manager=users["admin"]
    )
    article = make_article("sec-article", owner=users["owner"], en=("Printers", "Turn it off."))
    saved_view = SavedView.objects.create(user=users["owner"], name="mine", query="status=open")
    notification = Notification.objects.create(
        user=users["owner"], kind=Notification.Kind.TICKET_ASSIGNED, ticket=ticket, dedupe_key="x"
    )
    webhook = WebhookEndpoint.objects.create(url="https://hooks.example/in", secret=WEBHOOK_SECRET)
    mailbox = Mailbox.objects.create(
        slug="sec-box",
        address="box@desk.example",
        team=owners,
        inbound_token_env="SEC_MAIL_TOKEN",
        imap_password_env="SEC_IMAP_PASSWORD",
    )
    category = CauseCategory.objects.filter(is_active=True).order_by("pk").first()
    if category is None:
        category = CauseCategory.objects.create(name="Hardware")
    closing_report = lessons_services.report_save(
        ticket=ticket,
        actor=users["owner"],
        category=category,
        texts={"cause": "Dust.", "solution": "Cleaned.", "lessons_learned": "Dust it."},
        expected_version=0,
    )
    measure = lessons_services.measure_add(
        report=closing_report,
        actor=users["owner"],
        title="Dust the printers",
        owner=users["owner"],
        due_on=timezone.localdate() + timedelta(days=7),
        expected_version=closing_report.version,
    )
    closing_report.refresh_from_db()
    ticket.refresh_from_db()
    message = ticket.messages.order_by("pk").first()
    attachment = ticket.attachments.get()

    owner_row, owner_token = ApiToken.objects.create(user=users["owner"], name="owner")
    _token, admin_token = ApiToken.objects.create(user=users["admin"], name="admin")
    _token, expired = ApiToken.objects.create(
        user=users["owner"], name="expired", expiry=timedelta(seconds=-1)
    )
    revoked_row, revoked = ApiToken.objects.create(user=users["owner"], name="revoked")
    revoked_row.delete()

    clients: dict[str, Client] = {}
    for role in ("owner", "admin", "former", "other_agent", "other_lead", "viewonly"):
        clients[role] = Client()
        clients[role].force_login(users[role])
    clients["deactivated"] = Client()
    clients["deactivated"].force_login(users["deactivated"])
    users["deactivated"].is_active = False
    users["deactivated"].save(update_fields=["is_active"])
    clients["anonymous"] = Client()
    clients["expired_token"] = Client(HTTP_AUTHORIZATION=f"Token {expired}")
    clients["revoked_token"] = Client(HTTP_AUTHORIZATION=f"Token {revoked}")
    for role, who in (("contact", contact), ("contact_other", contact_other)):
        clients[role] = Client()
        session = clients[role].session
        session[CONTACT_KEY] = who.pk
        session[CHECK_KEY] = contact_check(who)
        session.save()

    return World(
        ticket=ticket,
        users=users,
        clients=clients,
        objects={
            "teams": {"owners": owners, "former": former, "others": others},
            "contact": contact,
            "contact_other": contact_other,
            "escalation": escalation,
            "service": service,
            "incident": incident,
            "article": article,
            "saved_view": saved_view,
            "notification": notification,
            "webhook": webhook,
            "message": message,
            "mailbox": mailbox,
            "attachment": attachment,
            "category": category,
            "closing_report": closing_report,
            "measure": measure,
            "owner_token_key": owner_row.token_key,
            "now": timezone.now(),
        },
        secrets={
            "owner_token": owner_token,
            "admin_token": admin_token,
            "expired_token": expired,
            "webhook_secret": WEBHOOK_SECRET,
            "password": PASSWORD,
        },
    )
