"""The ticket domain: support levels, teams, customers, tickets, messages and the timeline.

Rows change only through `tickets/services.py`; per-row bookkeeping lives here, on the model.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, DateTimeField, Exists, F, Q, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Least, Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from helpdesk.appendonly import AppendOnlyError as AppendOnlyError  # raised by the timeline
from helpdesk.appendonly import AppendOnlyModel, AppendOnlyQuerySet
from helpdesk.names import TranslatedName, german_name_field
from tickets.priority import Impact, Priority, Urgency

ACTIVE_STATUS_VALUES = ("new", "open", "pending")
_NEVER = Value(datetime.datetime(9999, 1, 1, tzinfo=datetime.UTC), output_field=DateTimeField())
# The earliest SLA warning or deadline instant a ticket carries (a far-future stand-in when it
# has none; COALESCE because SQLite's LEAST does not skip NULLs). A ticket is at risk or breached
# only once this instant has passed, or when a warning or breach is on record (`SLA_FLAGGED`):
# the dashboard narrows its scans with both, through the two partial indexes on `Ticket`.
SLA_ATTENTION_AT = Least(
    *(
        Coalesce(F(column), _NEVER)
        for target in ("first_response", "next_update", "resolution")
        for column in (f"{target}_warning_at", f"{target}_due_at")
    )
)
SLA_FLAGGED = Q(
    *(
        Q(**{f"{target}_{flag}_at__isnull": False})
        for target in ("first_response", "next_update", "resolution")
        for flag in ("warned", "breached")
    ),
    _connector=Q.OR,
)

# The earliest deadline among a ticket's unmet targets, as one SQL expression: a first
# response counts until it is sent, the status-update and resolution columns only hold a
# deadline while their clock is live. Tickets without one (closed, no policy, clock paused)
# get a far-future stand-in rather than NULL, so that they sort last and the keyset cursor
# never has to compare with NULL. (LEAST ignores NULLs on PostgreSQL but not on SQLite, hence
# the COALESCE around each column.) The list's "due soonest" sort and the dashboard order by
# it; the expression index `ticket_sla_due` holds it, so it must stay word for word the same.
NO_DEADLINE = datetime.datetime(9999, 1, 1, tzinfo=datetime.UTC)
SLA_DUE = Case(
    When(
        status__in=ACTIVE_STATUS_VALUES,
        then=Least(
            Coalesce(
                Case(
                    When(first_responded_at__isnull=True, then=F("first_response_due_at")),
                    default=None,
                    output_field=DateTimeField(),
                ),
                _NEVER,
            ),
            Coalesce(F("next_update_due_at"), _NEVER),
            Coalesce(F("resolution_due_at"), _NEVER),
        ),
    ),
    default=_NEVER,
    output_field=DateTimeField(),
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class SupportLevel(TranslatedName, models.Model):
    """One stage of the escalation chain: 1st level, 2nd level, incident management, management."""

    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_de = german_name_field(100)
    description = models.TextField(_("mandate"), blank=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("support level")
        verbose_name_plural = _("support levels")

    def __str__(self) -> str:
        return f"{self.rank} · {self.display_name}"


class Team(models.Model):
    """A group of agents. Tier teams form the escalation chain through `escalates_to`."""

    class Kind(models.TextChoices):
        TIER = "tier", _("Tier (escalation chain)")
        FUNCTIONAL = "functional", _("Functional (lateral experts)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.TIER)
    level = models.ForeignKey(
        SupportLevel, on_delete=models.PROTECT, related_name="teams", verbose_name=_("level")
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_teams",
        verbose_name=_("team lead"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="teams", verbose_name=_("members")
    )
    escalates_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="escalated_from",
        verbose_name=_("escalates to"),
        help_text=_("The next team up the escalation chain (tier teams only)."),
    )
    email = models.EmailField(_("team email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["level__rank", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name

    def chain(self) -> list[Team]:
        """The teams above this one along `escalates_to`, stopping at the top or at a cycle."""
        seen: set[int] = {self.pk}
        result: list[Team] = []
        current = self.escalates_to
        while current is not None and current.pk not in seen:
            result.append(current)
            seen.add(current.pk)
            current = current.escalates_to
        return result

    def chain_has_cycle(self) -> bool:
        """True when following `escalates_to` from this team comes back to a team already seen."""
        seen: set[int] = {self.pk}
        current = self.escalates_to
        while current is not None:
            if current.pk in seen:
                return True
            seen.add(current.pk)
            current = current.escalates_to
        return False


class Customer(models.Model):
    """An organisation or a person we support; its tier and contract select an SLA policy."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", _("Organisation")
        PERSON = "person", _("Person")

    class Tier(models.TextChoices):
        STANDARD = "standard", _("Standard")
        PREMIUM = "premium", _("Premium")
        ENTERPRISE = "enterprise", _("Enterprise")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.ORGANISATION
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    is_vip = models.BooleanField(_("VIP"), default=False)
    contract = models.CharField(
        _("contract"),
        max_length=100,
        blank=True,
        help_text=_("Contract reference; SLA policies can select customers by it."),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name


def normalise_address(address: str | None) -> str:
    """An email address as contacts store it: trimmed and lower case, so that one unique
    index makes addresses unique case-insensitively and a lookup is an equality."""
    return (address or "").strip().lower()


class ContactQuerySet(models.QuerySet["Contact"]):
    def for_address(self, address: str) -> Contact | None:
        """The contact one of whose email addresses (`ContactAddress`, the primary among them)
        is `address`, case-insensitively, or None. One query."""
        address = normalise_address(address)
        if not address:
            return None
        return next(iter(self.filter(addresses__email=address).order_by()[:1]), None)


class Contact(models.Model):
    """A person who writes to us: of a customer organisation, or a personal customer.

    Contacts are not staff users: they reach the desk by email and the customer portal, and
    see only their own tickets (and their organisation's where `sees_organisation_tickets`).
    """

    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="contacts",
        verbose_name=_("customer"),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    # The primary address: the one we send to. It is always one of `addresses` too (`save`
    # adds it), and every address matches the contact (`ContactQuerySet.for_address`).
    email = models.EmailField(
        _("primary email"),
        unique=True,
        help_text=_("Emails to the contact go here. Every address below also identifies them."),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    portal_access = models.BooleanField(_("portal access"), default=True)
    sees_organisation_tickets = models.BooleanField(
        _("sees the organisation's tickets"),
        default=False,
        help_text=_("Besides their own tickets, the contact sees every ticket of the customer."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name", "email"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, and make the primary address one of the contact's addresses (a new primary
        keeps the earlier one as a further address). IntegrityError when another contact has
        that address."""
        self.email = normalise_address(self.email)
        adding = self._state.adding
        update_fields = kwargs.get("update_fields")
        # No savepoint of its own: inside a caller's transaction both rows go or stay together.
        with transaction.atomic(savepoint=False):
            super().save(*args, **kwargs)
            if update_fields is not None and "email" not in update_fields:
                return
            if adding or not self.addresses.filter(email=self.email).exists():
                ContactAddress.objects.create(contact=self, email=self.email)

    def all_addresses(self) -> list[str]:
        """Every address of the contact, the primary first."""
        others = sorted(a.email for a in self.addresses.all() if a.email != self.email)
        return [self.email, *others]


class ContactAddress(models.Model):
    """One email address of a contact: mail from it, a portal sign-in with it and a CC of it
    all mean that contact. Stored lower case, and unique whatever its case (an index on its
    lower case), so no two contacts share an address."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("contact")
    )
    email = models.EmailField(_("email"), unique=True)

    class Meta:
        ordering = ["email"]
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        constraints = [
            # `save` stores lower case (so lookups are equalities on the plain index); this
            # holds for writes that bypass it too.
            models.UniqueConstraint(Lower("email"), name="contact_address_unique_any_case"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalise_address(self.email)
        super().save(*args, **kwargs)


class Service(TranslatedName, models.Model):
    """A business service customers depend on ("Checkout", "Customer login"): the catalogue
    that tickets and major incidents name as affected."""

    class Criticality(models.IntegerChoices):
        CRITICAL = 1, _("Critical")
        HIGH = 2, _("High")
        MEDIUM = 3, _("Medium")
        LOW = 4, _("Low")

    class Status(models.TextChoices):
        OPERATIONAL = "operational", _("Operational")
        DEGRADED = "degraded", _("Degraded")
        OUTAGE = "outage", _("Outage")

    name = models.CharField(_("name"), max_length=100, unique=True)
    name_de = german_name_field(100)
    description = models.TextField(_("description"), blank=True)
    owning_team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
        verbose_name=_("owning team"),
    )
    criticality = models.PositiveSmallIntegerField(
        _("criticality"), choices=Criticality.choices, default=Criticality.MEDIUM
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPERATIONAL
    )
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.display_name


class ReferenceCounter(models.Model):
    """The last ticket number handed out per year, for human references like HD-2026-000123."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("reference counter")
        verbose_name_plural = _("reference counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


def agent_teams(user: AbstractBaseUser) -> models.QuerySet[Team]:
    """The teams `user` works in, as member or as lead."""
    return Team.objects.filter(Q(members=user) | Q(lead=user))


class TicketQuerySet(models.QuerySet["Ticket"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> TicketQuerySet:
        """The tickets `user` may read and comment on: the one rule for UI, API, search,
        exports and dashboards.

        Admins (superusers or holders of `tickets.view_all_tickets`) see all. Agents see the
        tickets of their teams (as member or lead), tickets assigned to them, tickets they
        follow or created, and tickets one of their teams held before: a ticket that was
        escalated away stays readable for the team (its lead, its former assignee) that
        worked on it. Former holders are read from the timeline's "team changed" entries,
        which every hand-off writes (escalation, de-escalation, reassignment; both sweep
        lanes), so nothing else has to keep a list. Moving a ticket is a narrower right:
        `tickets.services.can_move`.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser or user.has_perm("tickets.view_all_tickets"):
            return self.all()
        teams = agent_teams(user)
        followed = Ticket.watchers.through.objects.filter(user_id=user.pk).values("ticket_id")
        held_before = (
            TicketEvent.objects.annotate(left_team=KeyTextTransform("from", "payload"))
            .filter(kind=TicketEvent.Kind.TEAM_CHANGED, left_team__in=teams.values("name"))
            .values("ticket_id")
        )
        return self.filter(
            Q(team_id__in=teams.values("pk"))
            | Q(assignee_id=user.pk)
            | Q(created_by_id=user.pk)
            | Q(pk__in=followed)
            | Q(pk__in=held_before)
        )

    def findable_by(self, user: AbstractBaseUser | AnonymousUser) -> TicketQuerySet:
        """The tickets whose ownership card `user` may look up: every ticket for every active
        agent (and admin), none for anybody else.

        The card (reference, subject, status, owning team and level, owner and lead with
        contact, next update due) carries no content; the documents require the owner of an
        escalated ticket to be findable by every agent. Reading the ticket itself is
        `visible_to`.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        # One uncorrelated EXISTS: the database evaluates it once, not per row.
        return self.filter(Exists(agent_teams(user)))

    def visible_to_contact(self, contact: Contact | None) -> TicketQuerySet:
        """The tickets a customer's contact may see in the portal: the ones they requested and,
        where `sees_organisation_tickets` is set, every ticket of their customer. Nothing for
        an inactive contact or one without portal access. The one rule for the portal, its
        exports and anything shown to customers."""
        if contact is None or not contact.is_active or not contact.portal_access:
            return self.none()
        mine = Q(requester=contact)
        if contact.sees_organisation_tickets:
            mine |= Q(customer_id=contact.customer_id)
        return self.filter(mine)

    def active(self) -> TicketQuerySet:
        return self.filter(status__in=Ticket.ACTIVE_STATUSES)

    def with_list_related(self) -> TicketQuerySet:
        """Everything a ticket list row shows, in one query."""
        return self.select_related("team", "level", "assignee", "customer")


class Ticket(ConcurrentTransitionMixin, models.Model):
    """A customer's issue. Its status is an FSM; escalation changes owner, not status."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        WEB = "web", _("Web")
        CHAT = "chat", _("Chat")
        API = "api", _("API")
        MONITORING = "monitoring", _("Monitoring")
        PORTAL = "portal", _("Customer portal")

    ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)

    reference = models.CharField(_("reference"), max_length=32, unique=True, editable=False)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = FSMField(
        _("status"), default=Status.NEW, choices=Status.choices, protected=True, db_index=True
    )
    impact = models.PositiveSmallIntegerField(
        _("impact"), choices=Impact.choices, default=Impact.MODERATE
    )
    urgency = models.PositiveSmallIntegerField(
        _("urgency"), choices=Urgency.choices, default=Urgency.MEDIUM
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.MEDIUM, db_index=True
    )
    priority_overridden = models.BooleanField(
        _("priority overridden"),
        default=False,
        help_text=_("Set when an agent changed the priority away from the severity matrix."),
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("team")
    )
    level = models.ForeignKey(
        SupportLevel, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("level")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("customer"),
    )
    requester = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requested_tickets",
        verbose_name=_("requester"),
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("affected service"),
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.WEB
    )
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="followed_tickets",
        verbose_name=_("followers"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopen_count = models.PositiveIntegerField(_("reopened"), default=0)
    resumed_at = models.DateTimeField(_("last back from pending"), null=True, blank=True)

    # Escalation state. `escalation_cycle` grows at every hand-off and on reopen; an automatic
    # rule fires at most once per ticket and cycle.
    escalation_cycle = models.PositiveIntegerField(_("escalation cycle"), default=0)
    cycle_started_at = models.DateTimeField(_("cycle started"), null=True, blank=True)
    is_major_incident = models.BooleanField(_("major incident"), default=False)
    risk_score = models.PositiveSmallIntegerField(_("risk score"), default=0)
    risk_reasons = models.JSONField(_("risk reasons"), default=list, blank=True)
    risk_changed_at = models.DateTimeField(_("risk changed"), null=True, blank=True)

    # The SLA clock, denormalised so that reads and sweeps are index lookups.
    last_progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_response_warning_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_response_breached_at = models.DateTimeField(
        _("first response breached"), null=True, blank=True
    )
    next_update_due_at = models.DateTimeField(_("next update due"), null=True, blank=True)
    next_update_warning_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_update_breached_at = models.DateTimeField(_("next update breached"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolution_warning_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_breached_at = models.DateTimeField(_("resolution breached"), null=True, blank=True)
    sla_policy = models.ForeignKey(
        "sla.SLAPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("SLA policy"),
    )
    first_response_warned_at = models.DateTimeField(
        _("first response warning"), null=True, blank=True
    )
    next_update_warned_at = models.DateTimeField(_("next update warning"), null=True, blank=True)
    resolution_warned_at = models.DateTimeField(_("resolution warning"), null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(_("SLA paused (business seconds)"), default=0)
    next_check_at = models.DateTimeField(_("next escalation check"), null=True, blank=True)

    # Grows with every write by a service, in the same UPDATE: forms carry the version they
    # were made from, so a double submit or a stale page is refused instead of acting twice
    # (DESIGN: "Once per intent").
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        permissions = [("view_all_tickets", _("Can see every ticket"))]
        indexes = [
            models.Index(fields=["team", "status", "-created_at"], name="ticket_team_status"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            # Keyset pagination of the lists, one index per sort order.
            models.Index(fields=["-created_at", "-id"], name="ticket_created_id"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated_id"),
            models.Index(fields=["priority", "-created_at", "-id"], name="ticket_priority_created"),
            # The dashboard's trends count the tickets resolved per day over the last 30 days.
            models.Index(
                fields=["resolved_at"],
                name="ticket_resolved_at",
                condition=Q(resolved_at__isnull=False),
            ),
            # The reports count the tickets first answered and the breaches recorded in a
            # period: today's stretch, read from the tickets beside the daily rollups
            # (`reporting.rollups`), reads a day of them instead of every ticket.
            models.Index(
                fields=["first_responded_at"],
                name="ticket_first_responded_at",
                condition=Q(first_responded_at__isnull=False),
            ),
            models.Index(
                fields=["first_response_breached_at"],
                name="ticket_first_response_breach",
                condition=Q(first_response_breached_at__isnull=False),
            ),
            models.Index(
                fields=["resolution_breached_at"],
                name="ticket_resolution_breach",
                condition=Q(resolution_breached_at__isnull=False),
            ),
            # The dashboard's at-risk and breached lists: tickets whose first SLA instant has
            # passed, and tickets with a warning or breach on record (see SLA_ATTENTION_AT).
            models.Index(
                SLA_ATTENTION_AT,
                name="ticket_sla_attention",
                condition=Q(status__in=ACTIVE_STATUS_VALUES),
            ),
            models.Index(
                fields=["id"],
                name="ticket_sla_flagged",
                condition=Q(status__in=ACTIVE_STATUS_VALUES) & SLA_FLAGGED,
            ),
            # The dashboard's load counts the active tickets per team, level and assignee: an
            # index-only scan of this one instead of reading every active ticket's row (the
            # other columns are what `visible_to` narrows an agent's count with).
            models.Index(
                fields=["team", "level", "assignee"],
                include=["created_by", "id"],
                name="ticket_active_load",
                condition=Q(status__in=ACTIVE_STATUS_VALUES),
            ),
            # The customer portal's lists: a contact's own tickets, and their organisation's.
            models.Index(
                fields=["requester", "-created_at", "-id"], name="ticket_requester_created"
            ),
            models.Index(fields=["customer", "-created_at", "-id"], name="ticket_customer_created"),
            # The list sorted by due time: pages walk this in order (see `SLA_DUE`).
            models.Index(SLA_DUE, F("id"), name="ticket_sla_due"),
            # The sweep reads only active tickets whose next check is due, in keyset order.
            models.Index(
                fields=["next_check_at", "id"],
                name="ticket_next_check_active",
                condition=Q(status__in=["new", "open", "pending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("tickets:detail", kwargs={"reference": self.reference})

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    # --- Status transitions. They change this row in memory only; services save and record.

    @transition(
        field=status,
        source=Status.NEW,
        target=Status.OPEN,
        custom={"label": pgettext_lazy("transition button", "Open")},
    )
    def open(self) -> None:
        """Work has started on a new ticket."""

    @transition(
        field=status,
        source=Status.OPEN,
        target=Status.PENDING,
        custom={"label": _("Set pending")},
    )
    def pend(self) -> None:
        """Waiting on the customer or a third party; the policy decides if the clock pauses."""

    @transition(
        field=status, source=Status.PENDING, target=Status.OPEN, custom={"label": _("Resume")}
    )
    def resume(self) -> None:
        """Back to work after waiting."""

    @transition(
        field=status,
        source=[Status.NEW, Status.OPEN, Status.PENDING],
        target=Status.RESOLVED,
        custom={"label": _("Resolve")},
    )
    def resolve(self) -> None:
        """Solved; the service stamps `resolved_at`."""

    @transition(
        field=status, source=Status.RESOLVED, target=Status.OPEN, custom={"label": _("Reopen")}
    )
    def reopen(self) -> None:
        """The solution did not hold; counted, and a new escalation cycle begins."""
        self.resolved_at = None
        self.reopen_count += 1
        self.escalation_cycle += 1

    @transition(
        field=status, source=Status.RESOLVED, target=Status.CLOSED, custom={"label": _("Close")}
    )
    def close(self) -> None:
        """Done for good; the service stamps `closed_at`."""


TRANSITION_NAMES = ("open", "pend", "resume", "resolve", "reopen", "close")


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    """A generated, unguessable storage name; the original name is kept in the row only."""
    suffix = PurePath(filename).suffix.lower()[:10]
    if not suffix[1:].isalnum():
        suffix = ""
    today = timezone.now()
    return f"attachments/{today:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Message(models.Model):
    """A public reply, an internal note, or a message from the customer."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Public reply")
        NOTE = "note", _("Internal note")
        CUSTOMER = "customer", _("Customer message")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    author_name = models.CharField(_("author name"), max_length=200, blank=True)
    # The customer's contact who wrote a customer message (by email or the portal).
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("contact"),
    )
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # The idempotency token of the form that sent the message: a second submit of the same
    # form finds the first message instead of writing a duplicate.
    intent = models.CharField(_("idempotency token"), max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "intent"], condition=~Q(intent=""), name="message_once_per_intent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.kind != self.Kind.NOTE

    @property
    def is_customer(self) -> bool:
        return self.kind == self.Kind.CUSTOMER

    @property
    def display_author(self) -> str:
        if self.author_id:
            return self.author.get_full_name() or self.author.get_username()
        return self.author_name or str(_("Customer"))


class Attachment(models.Model):
    """A file on a message. Stored under a generated name; served only by the download view."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("ticket")
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("message"),
    )
    file = models.FileField(_("file"), upload_to=attachment_upload_to, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse(
            "tickets:attachment",
            kwargs={"reference": self.ticket.reference, "pk": self.pk},
        )


class TicketEvent(AppendOnlyModel):
    """The append-only timeline and audit trail of a ticket: who did what, when, with what."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITIONED = "transitioned", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        TEAM_CHANGED = "team_changed", _("Team changed")
        LEVEL_CHANGED = "level_changed", _("Level changed")
        PRIORITY_CHANGED = "priority_changed", _("Priority changed")
        REPLIED = "replied", _("Public reply")
        NOTE_ADDED = "note_added", _("Internal note")
        CUSTOMER_MESSAGE = "customer_message", _("Customer message")
        FOLLOWED = "followed", _("Followed")
        UNFOLLOWED = "unfollowed", _("Unfollowed")
        ESCALATED = "escalated", _("Escalated")
        ACKNOWLEDGED = "acknowledged", _("Escalation acknowledged")
        DE_ESCALATED = "de_escalated", _("De-escalated")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACH = "sla_breach", _("SLA breached")
        SLA_RECOMPUTED = "sla_recomputed", _("SLA recomputed")
        NOTIFIED = "notified", _("Notification sent")
        MAJOR_INCIDENT = "major_incident", _("Major incident")
        FOLLOW_UP = "follow_up", _("Follow-up ticket")
        RATED = "rated", _("Rated by the customer")
        DETAILS_CHANGED = "details_changed", _("Details changed")
        SERVICE_CHANGED = "service_changed", _("Affected service changed")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket_created"),
            models.Index(fields=["created_at"], name="event_created"),  # audits, reports
            # Which teams held a ticket before (`TicketQuerySet.visible_to`).
            models.Index(
                KeyTextTransform("from", "payload"),
                F("ticket"),
                name="event_team_left",
                condition=Q(kind="team_changed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.ticket_id}"


# Which entry speaks for a change when one service call wrote several at the same instant.
HEADLINE_KINDS: tuple[str, ...] = (
    TicketEvent.Kind.ESCALATED,
    TicketEvent.Kind.DE_ESCALATED,
    TicketEvent.Kind.ACKNOWLEDGED,
    TicketEvent.Kind.CREATED,
    TicketEvent.Kind.TRANSITIONED,
    TicketEvent.Kind.PRIORITY_CHANGED,
    TicketEvent.Kind.TEAM_CHANGED,
    TicketEvent.Kind.ASSIGNED,
    TicketEvent.Kind.REPLIED,
    TicketEvent.Kind.NOTE_ADDED,
    TicketEvent.Kind.CUSTOMER_MESSAGE,
    TicketEvent.Kind.MAJOR_INCIDENT,
    TicketEvent.Kind.LEVEL_CHANGED,
)


def headline(events: Sequence[TicketEvent]) -> TicketEvent:
    """The entry that names what one action did, among the entries it wrote together."""
    order = {kind: i for i, kind in enumerate(HEADLINE_KINDS)}
    return min(events, key=lambda e: (order.get(e.kind, len(order)), e.pk))


class SavedView(models.Model):
    """A view of the ticket list that a user saved from its filters: a name and the list's
    query string (validated and normalised by `tickets.workspace.saved_view_save`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_views",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=60)
    query = models.CharField(_("filters"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
