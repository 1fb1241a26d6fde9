"""Who reads the reports, and which tickets they count."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from tickets.models import Team, Ticket


def sees_reports(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Team leads and admins read the reports; agents do not. One query for a non-admin."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or Team.objects.filter(lead_id=user.pk).exists()


def report_tickets(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Ticket]:
    """The tickets a report counts for `user`: exactly the ones they may read."""
    return Ticket.objects.visible_to(user)
