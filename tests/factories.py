"""factory-boy factories for the domain, with traits for ticket states."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tickets.models import Customer, Message, SupportLevel, Team, Ticket
from tickets.priority import derive_priority

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AdminFactory(UserFactory):
    is_staff = True
    is_superuser = True


class SupportLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportLevel
        django_get_or_create = ("rank",)

    rank = 1
    name = factory.LazyAttribute(lambda level: f"Level {level.rank}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    level = factory.SubFactory(SupportLevelFactory)
    kind = Team.Kind.TIER

    @factory.post_generation
    def members(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.members.add(*extracted)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("company")
    email = factory.Faker("company_email")


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket row made directly (for reads); writes under test go through the services."""

    class Meta:
        model = Ticket
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"HD-2026-{n + 900000:06d}")
    subject = factory.Faker("sentence", nb_words=6)
    description = factory.Faker("paragraph")
    team = factory.SubFactory(TeamFactory)
    level = factory.SelfAttribute("team.level")
    customer = factory.SubFactory(CustomerFactory)
    impact = 3
    urgency = 3
    priority = factory.LazyAttribute(lambda t: derive_priority(t.impact, t.urgency))
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        open = factory.Trait(status=Ticket.Status.OPEN)
        pending = factory.Trait(status=Ticket.Status.PENDING)
        resolved = factory.Trait(
            status=Ticket.Status.RESOLVED, resolved_at=factory.LazyFunction(timezone.now)
        )
        closed = factory.Trait(
            status=Ticket.Status.CLOSED,
            resolved_at=factory.LazyFunction(timezone.now),
            closed_at=factory.LazyFunction(timezone.now),
        )
        critical = factory.Trait(impact=1, urgency=1)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    kind = Message.Kind.CUSTOMER
    body = factory.Faker("paragraph")
