"""The demo organisation of the source documents, created from `story/organisation.json`:
four support levels, the escalation chain, functional teams, agents, an admin, customers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from demo import story
from tickets import services
from tickets.models import Contact, Customer, SupportLevel, Team

User = get_user_model()


@dataclass
class Login:
    username: str
    password: str | None  # None: the account existed before and keeps its password
    role: str


@dataclass
class Organisation:
    levels: dict[int, SupportLevel]
    teams: dict[str, Team]  # by TeamSpec.key
    members: dict[int, list[Any]]  # team pk -> active users who can work its tickets
    customers: list[tuple[Customer, story.CustomerSpec]]
    logins: list[Login]
    admin: Any  # acts when a team has nobody left to act (a superuser may work any ticket)
    created: Counter[str] = field(default_factory=Counter)
    _priorities: dict[tuple[int, int], int] = field(default_factory=dict, init=False, repr=False)

    def people(self, team_id: int) -> list[Any]:
        """Who can work the team's tickets (the admin when nobody can). A team outside the demo
        organisation (an automatic escalation may hand a ticket to one) is looked up once."""
        if team_id not in self.members:
            self.members[team_id] = _workers(Team.objects.get(pk=team_id))
        return self.members[team_id] or [self.admin]

    def lead_of(self, team_id: int) -> int | None:
        team = next((t for t in self.teams.values() if t.pk == team_id), None)
        return team.lead_id if team is not None else None

    def priority(self, impact: int, urgency: int) -> int:
        """`services.derive_ticket_priority`, asked once per pair (it reads the matrix)."""
        key = (impact, urgency)
        if key not in self._priorities:
            self._priorities[key] = services.derive_ticket_priority(impact, urgency)
        return self._priorities[key]


def _user(
    username: str,
    password: str,
    role: str,
    created: Counter[str],
    hashes: dict[str, str],
    **extra: Any,
) -> tuple[Any, Login]:
    first, last = story.organisation().people[username]
    user, is_new = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@helpdesk.example",
            **extra,
        },
    )
    if is_new:
        # One hash per demo password: hashing is slow on purpose, and these are printed anyway.
        if password not in hashes:
            hashes[password] = make_password(password)
        user.password = hashes[password]
        user.save(update_fields=["password"])
        created["users"] += 1
    return user, Login(username, password if is_new else None, role)


@transaction.atomic
def seed_organisation() -> Organisation:
    """Create what is missing of the demo organisation; never change what exists.

    Levels are found by rank, teams by name, users by user name, customers by name. A team's
    members are only set when the team is created here, so a second run changes nothing.
    """
    created: Counter[str] = Counter()
    logins: list[Login] = []
    hashes: dict[str, str] = {}
    spec_org = story.organisation()

    levels: dict[int, SupportLevel] = {}
    for rank, name, mandate in spec_org.levels:
        level, is_new = SupportLevel.objects.get_or_create(
            rank=rank, defaults={"name": name, "description": mandate}
        )
        levels[rank] = level
        created["levels"] += is_new

    admin, login = _user(
        spec_org.admin_username,
        spec_org.admin_password,
        "admin (superuser)",
        created,
        hashes,
        is_staff=True,
        is_superuser=True,
    )
    logins.append(login)

    teams: dict[str, Team] = {}
    for spec in spec_org.teams:
        lead, login = _user(
            spec.lead, spec_org.lead_password, f"lead, {spec.name}", created, hashes
        )
        logins.append(login)
        people = [lead]
        for username in spec.members:
            member, login = _user(username, spec_org.agent_password, spec.name, created, hashes)
            logins.append(login)
            people.append(member)
        team, is_new = Team.objects.get_or_create(
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "level": levels[spec.rank],
                "escalates_to": teams[spec.escalates_to] if spec.escalates_to else None,
                "email": spec.email,
                "lead": lead,
            },
        )
        if is_new:
            team.members.add(*people)
            created["teams"] += 1
        teams[spec.key] = team

    customers = []
    for spec in spec_org.customers:
        customer, is_new = Customer.objects.get_or_create(
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "tier": spec.tier,
                "is_vip": spec.is_vip,
                "contract": spec.contract,
                "email": spec.email,
                "phone": spec.phone,
                "notes": spec.notes,
            },
        )
        customers.append((customer, spec))
        created["customers"] += is_new
        if spec.email:
            # The customer's contact person, who can sign in to the customer portal and there
            # sees every ticket of their organisation.
            Contact.objects.get_or_create(
                email=spec.email.lower(),
                defaults={
                    "customer": customer,
                    "name": spec.contact,
                    "language": spec.lang if spec.lang in ("en", "de") else "en",
                    "sees_organisation_tickets": True,
                },
            )

    return Organisation(
        levels=levels,
        teams=teams,
        members={team.pk: _workers(team) for team in teams.values()},
        customers=customers,
        logins=logins,
        admin=admin,
        created=created,
    )


def _workers(team: Team) -> list[Any]:
    """The team's active members and lead, in a stable order (the plans pick from it)."""
    people = {user.pk: user for user in team.members.filter(is_active=True)}
    if team.lead is not None and team.lead.is_active:
        people.setdefault(team.lead.pk, team.lead)
    return sorted(people.values(), key=lambda user: user.get_username())


def taker(org: Organisation, rng: Any, team_id: int) -> Any:
    """Who takes a ticket of the team: mostly an agent, now and then the lead."""
    people = org.people(team_id)
    lead = org.lead_of(team_id)
    agents = [person for person in people if person.pk != lead] or people
    return rng.choice(agents) if rng.random() < 0.85 else rng.choice(people)


def agent(org: Organisation, rng: Any, team_id: int, assignee_id: int | None) -> Any:
    """Who acts now: the assignee while they are in the ticket's team, else one of the team."""
    people = org.people(team_id)
    for person in people:
        if person.pk == assignee_id:
            return person
    return rng.choice(people)
