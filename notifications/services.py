"""Who is told, and telling them: recipients are resolved in one place."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from notifications.models import Notification
from tickets.models import Team, Ticket

User = get_user_model()


def resolve_recipients(
    ticket: Ticket,
    *,
    assignee: bool = False,
    team_lead: bool = False,
    team: Team | None = None,
    level_rank: int | None = None,
    users: Iterable[AbstractBaseUser] = (),
    exclude: AbstractBaseUser | None = None,
) -> list[AbstractBaseUser]:
    """The distinct active users to tell about `ticket`: its assignee, its team's lead, the
    members and lead of `team`, the leads of every team at `level_rank`, and `users`.
    `exclude` (usually whoever caused it) is left out.
    """
    query = Q(pk__in=[u.pk for u in users])
    if assignee and ticket.assignee_id:
        query |= Q(pk=ticket.assignee_id)
    if team_lead and ticket.team.lead_id:
        query |= Q(pk=ticket.team.lead_id)
    if team is not None:
        query |= Q(teams=team)
        if team.lead_id:
            query |= Q(pk=team.lead_id)
    if level_rank is not None:
        query |= Q(led_teams__level__rank=level_rank)
    recipients = User.objects.filter(query, is_active=True).distinct().order_by("pk")
    if exclude is not None and exclude.is_authenticated:
        recipients = recipients.exclude(pk=exclude.pk)
    return list(recipients)


def notify(
    recipients: Iterable[AbstractBaseUser],
    *,
    kind: str,
    ticket: Ticket | None,
    cause: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """Write one in-app notification per recipient for `cause` (e.g. "escalation:42").

    A recipient already told about the same cause is not told again. Returns how many rows
    were written.
    """
    rows = [
        Notification(
            user=user,
            kind=kind,
            ticket=ticket,
            payload={"reference": ticket.reference if ticket else "", **payload},
            dedupe_key=cause[:120],
            created_at=now,
        )
        for user in recipients
    ]
    if not rows:
        return 0
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)
