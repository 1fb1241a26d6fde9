"""The ticket_create hot path: configuration cached per process and seen by every process as
soon as it changes (`helpdesk.configcache`), and a bound on the statements one creation runs
through the service and through the API (the figures are in `bench/api.py`)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from escalation.facts import RuleSet
from escalation.models import EscalationRule
from helpdesk import configcache
from sla.models import SeverityMatrix, SLAPolicy, SLATarget
from sla.services import active_severity_matrix, policies_in_force, policy_target
from tests.factories import TeamFactory, UserFactory
from tickets import services
from tickets.models import Ticket

# One ticket_create through the service once the configuration is cached: the reference
# (one upsert), the ticket, its `created` entry, its clock segments, its deadlines and its
# next check, in its transaction. It was 28 before the configuration was cached.
SERVICE_STATEMENTS = 8
# The same through POST /api/v1/tickets/: token and team checks, the creation, the response
# (the ticket as the API shows it, with its transitions and its CC list). It was 39.
API_STATEMENTS = 18


def other_process_changed_configuration() -> None:
    """What this process sees of a change another process committed: new rows in the
    database (written here without signals, as the other process's signals never reach this
    one) and a new version in the shared cache (what its `publish` wrote)."""
    cache.set(configcache.VERSION_KEY, f"another-process-{uuid.uuid4().hex}", timeout=None)


@pytest.fixture
def new_request():
    """The start of the next request of this process (Django's `request_started`)."""
    yield configcache.begin_scope
    configcache.end_scope()


@pytest.mark.django_db
class TestCachedConfiguration:
    def test_a_change_committed_by_another_process_is_seen_at_the_next_request(
        self, new_request, django_assert_num_queries
    ):
        today = timezone.localdate()
        new_request()
        before = {p.pk: p.name for p in policies_in_force(today)}
        assert before
        with django_assert_num_queries(0):  # cached: no read
            assert {p.pk: p.name for p in policies_in_force(today)} == before
        pk = next(iter(before))
        SLAPolicy.objects.filter(pk=pk).update(name="Changed elsewhere")
        new_request()
        # The shared version is unchanged: this process keeps what it read.
        assert {p.pk: p.name for p in policies_in_force(today)} == before
        other_process_changed_configuration()
        # Within a request the versions are compared once, at its first read …
        assert {p.pk: p.name for p in policies_in_force(today)} == before
        new_request()
        # … so the next request reads the configuration again, without a restart.
        assert {p.pk: p.name for p in policies_in_force(today)}[pk] == "Changed elsewhere"

    def test_outside_a_request_every_read_compares_the_versions(self):
        today = timezone.localdate()
        policy = policies_in_force(today)[0]
        SLAPolicy.objects.filter(pk=policy.pk).update(order=policy.order + 1000)
        assert policies_in_force(today)[0].order == policy.order
        other_process_changed_configuration()
        assert {p.pk: p.order for p in policies_in_force(today)}[policy.pk] == policy.order + 1000

    def test_a_save_is_seen_here_at_once_and_published_to_the_others_on_commit(
        self, django_capture_on_commit_callbacks
    ):
        rules = RuleSet.current()
        shared = cache.get(configcache.VERSION_KEY)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            rule = EscalationRule.objects.create(
                name="Cached?", order=1, trigger="severity", priority_at_least=1
            )
            # In the transaction that changed it: read from the database, not kept.
            assert rule.pk in RuleSet.current().by_id
            assert cache.get(configcache.VERSION_KEY) == shared  # not before the commit
        assert rule.pk not in rules.by_id
        assert configcache.publish in callbacks
        assert cache.get(configcache.VERSION_KEY) != shared  # the other processes reread

    def test_a_rolled_back_change_is_not_kept(self):
        matrix = SeverityMatrix.objects.filter(is_active=True).first()
        assert matrix is not None
        before = active_severity_matrix()
        grid = {SeverityMatrix.key(i, u): 4 for i in range(1, 5) for u in range(1, 5)}
        with pytest.raises(RuntimeError), transaction.atomic():
            SeverityMatrix.objects.filter(pk=matrix.pk).update(grid=grid)
            configcache.changed()  # as a write that bypasses the signals must
            assert set(active_severity_matrix().values()) == {4}
            raise RuntimeError("rolled back")
        assert active_severity_matrix() == before

    def test_targets_and_many_to_many_changes_are_changes(self):
        policy = policies_in_force(timezone.localdate())[0]
        target = SLATarget.objects.filter(policy=policy).first()
        assert policy_target(policy, target.priority) == target
        target.first_response = dt.timedelta(minutes=7)
        target.save()
        assert policy_target(policy, target.priority).first_response == dt.timedelta(minutes=7)
        team = TeamFactory(name="Only team of the policy")
        policy.teams.add(team)
        assert [t.pk for t in policies_in_force(timezone.localdate())[0].teams.all()] == [team.pk]


def create(agent, team) -> Ticket:
    return services.ticket_create(
        actor=agent,
        data=services.NewTicket(subject="Printer on fire", description="d", team=team),
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ticket_create_runs_a_bounded_number_of_statements(django_assert_max_num_queries):
    agent = UserFactory(username="agent")
    team = TeamFactory(name="Team A", members=[agent])
    create(agent, team)  # the first creation of the process reads the configuration
    with django_assert_max_num_queries(SERVICE_STATEMENTS):
        ticket = create(agent, team)
    # The same state as without the cache: deadlines, clock and next check are written.
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.sla_policy_id is not None
    assert stored.first_response_due_at is not None
    assert stored.next_check_at is not None
    assert stored.clock_segments.count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_api_create_runs_a_bounded_number_of_statements(django_assert_max_num_queries):
    agent = UserFactory(username="agent")
    team = TeamFactory(name="Team A", members=[agent])
    _token, secret = ApiToken.objects.create(user=agent, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    body = {"subject": "Printer on fire", "team": team.pk, "impact": 2, "urgency": 2}
    assert client.post("/api/v1/tickets/", body, format="json").status_code == 201
    with django_assert_max_num_queries(API_STATEMENTS):
        response = client.post("/api/v1/tickets/", body, format="json")
    assert response.status_code == 201
    assert response.json()["sla"]
    assert Ticket.objects.filter(subject="Printer on fire").count() == 2
