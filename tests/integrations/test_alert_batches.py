"""A request of many alerts is taken set-based (`alerts_ingest`): the same rows as taking its
alerts one request each, in fewer statements."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations import services
from integrations.alerts import Alert
from integrations.models import AlertGroup, Integration
from sla.models import ClockSegment
from tests.factories import TeamFactory
from tests.integrations.conftest import make_integration
from tickets import services as ticket_services
from tickets.models import Service, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def fire(key: str, summary: str = "", severity: str = "warning", service: str = "") -> Alert:
    return Alert(
        dedup_key=key,
        firing=True,
        summary=summary or f"{key} is down",
        severity=severity,
        labels={"instance": key, **({"service": service} if service else {})},
    )


def resolve(key: str) -> Alert:
    return Alert(dedup_key=key, firing=False, summary=f"{key} is up again")


def snapshot() -> dict[str, object]:
    """What the intake wrote, without the row ids (they differ between the two runs)."""
    tickets = {
        t.pk: t.reference
        for t in Ticket.objects.only("reference")  # the references are the same in both runs
    }

    def rows(queryset, *exclude: str) -> list[dict]:
        out = []
        for row in queryset.values():
            row = {k: v for k, v in row.items() if k not in ("id", *exclude)}
            if "ticket_id" in row:
                row["ticket_id"] = tickets.get(row["ticket_id"])
            out.append(row)
        return out

    return {
        "tickets": rows(Ticket.objects.order_by("reference")),
        "groups": sorted(
            rows(AlertGroup.objects.all()),
            key=lambda r: (r["dedup_key"], r["first_seen_at"], str(r["ticket_id"])),
        ),
        # Per ticket, in the order written (the set-based lane writes other tickets' entries
        # in between, which is not an order anyone reads).
        "events": sorted(
            rows(TicketEvent.objects.order_by("pk"), "message_id"),
            key=lambda r: str(r["ticket_id"]),
        ),
        "segments": sorted(
            rows(ClockSegment.objects.order_by("pk")), key=lambda r: str(r["ticket_id"])
        ),
    }


class Rollback(Exception):
    pass


def taken(integration: Integration, requests: list[list[Alert]], now: dt.datetime) -> dict:
    """What `requests` leave behind, rolled back afterwards."""
    result: dict = {}
    try:
        with transaction.atomic():
            for alerts in requests:
                services.alerts_ingest(integration=integration, alerts=alerts, now=now)
            result = snapshot()
            raise Rollback
    except Rollback:
        pass
    return result


def test_a_batch_writes_what_its_alerts_write_one_request_each(team_a, agent):
    default = Service.objects.create(name="Monitoring")
    Service.objects.create(name="Checkout")
    Service.objects.create(name="Customer login")
    integration, _secret = make_integration(team_a, service=default, service_label="service")
    integration = Integration.objects.select_related("account__user", "team", "service").get(
        pk=integration.pk
    )
    earlier = timezone.now() - dt.timedelta(hours=1)
    services.alerts_ingest(
        integration=integration,
        alerts=[fire("old-1"), fire("old-2"), fire("old-3")],
        now=earlier,
    )
    reopened = AlertGroup.objects.get(dedup_key="old-2").ticket
    ticket_services.ticket_transition(ticket=reopened, actor=agent, name="resolve")
    now = timezone.now()
    batch = [
        fire("new-b", severity="critical", service="CHECKOUT"),
        fire("new-a", service="customer-login"),
        fire("new-a", service="customer-login"),  # identical: counted only
        # Says more (noted); its service stays the first alert's.
        fire("new-a", summary="new-a is down, and its disk is full", service="checkout"),
        fire("old-1", service="checkout"),  # a repeat of an open one, an hour later: noted
        resolve("old-3"),
        fire("old-2", service="payments"),  # its ticket was resolved: a new incident
        resolve("new-c"),  # nothing open: ignored
        fire("new-d"),
        resolve("new-d"),
        fire("new-e", service="payments"),  # names no service: the default, recorded
    ]
    together = taken(integration, [batch], now)
    order = sorted(range(len(batch)), key=lambda i: batch[i].dedup_key)
    alone = taken(integration, [[batch[i]] for i in order], now)
    # Three before; new-a, new-b, new-d, new-e and old-2.
    assert len(together["tickets"]) == 3 + 5
    assert together == alone
    services_of = {t["reference"]: t["service_id"] for t in together["tickets"]}
    by_key = {
        (g["dedup_key"], g["is_open"]): (
            Service.objects.get(pk=services_of[g["ticket_id"]]).name,
            g["service_unmatched"],
        )
        for g in together["groups"]
        if g["ticket_id"]
    }
    assert by_key == {
        ("old-1", True): ("Monitoring", ""),  # opened without the label; the repeat keeps it
        ("old-2", False): ("Monitoring", ""),
        ("old-2", True): ("Monitoring", "payments"),
        ("old-3", False): ("Monitoring", ""),
        ("new-a", True): ("Customer login", ""),
        ("new-b", True): ("Checkout", ""),
        ("new-d", False): ("Monitoring", ""),
        ("new-e", True): ("Monitoring", "payments"),
    }


def committed_integration() -> Integration:
    """An integration committed before the measure, so the configuration is cached (inside
    the transaction that changed it, it is read anew at every use: `helpdesk.configcache`)."""
    team = TeamFactory(name="On call")
    integration, _secret = make_integration(team)
    return Integration.objects.select_related("account__user", "team").get(pk=integration.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_opening_many_tickets_costs_what_opening_one_costs():
    obj = committed_integration()
    now = timezone.now()
    services.alerts_ingest(integration=obj, alerts=[fire("warm")], now=now)
    with CaptureQueriesContext(connection) as one:
        services.alerts_ingest(integration=obj, alerts=[fire("one")], now=now)
    with CaptureQueriesContext(connection) as ten:
        services.alerts_ingest(
            integration=obj, alerts=[fire(f"many-{n}") for n in range(10)], now=now
        )
    assert Ticket.objects.count() == 12
    # One alert: BEGIN, the groups' lock, insert and read, the reference, the ticket, its
    # entry, the change hooks (clock segments, SLA columns, next check), the group's counters,
    # COMMIT. It was 14 (a savepoint around the creation) and 10 alerts 95, then 10 alerts
    # 12 + 9 × 3 (the change hooks ran per ticket).
    assert len(one) <= 12
    # The change hooks run set-based: ten tickets are written with the statements of one.
    assert len(ten) == len(one), [q["sql"][:60] for q in ten.captured_queries]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_repeats_in_one_request_write_their_groups_in_one_statement():
    obj = committed_integration()
    now = timezone.now()
    keys = [f"k-{n}" for n in range(10)]
    services.alerts_ingest(integration=obj, alerts=[fire(k) for k in keys], now=now)
    with CaptureQueriesContext(connection) as repeat:
        outcomes = services.alerts_ingest(integration=obj, alerts=[fire(k) for k in keys], now=now)
    assert {o.action for o in outcomes} == {services.APPENDED}
    # BEGIN, the lock (one read), the counters of all ten (one update), COMMIT.
    written = [q["sql"] for q in repeat.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(written) == 1
    assert len(repeat) <= 4
    assert sorted(AlertGroup.objects.values_list("count", flat=True)) == [2] * 10


@pytest.mark.postgres
def test_the_locked_read_of_open_groups_makes_the_rows_the_orm_makes(team_a):
    """`locked_groups_sql` reads the groups and their tickets with a statement of its own: the
    same objects, field by field (JSON labels, instants, a group without a ticket), as the ORM
    query it replaces."""
    integration, _secret = make_integration(team_a)
    services.alerts_ingest(
        integration=integration,
        alerts=[fire("b/ü", severity="critical"), fire("a"), fire("a"), fire("c")],
    )
    AlertGroup.objects.create(integration=integration, dedup_key="d", labels={"k": ["v", 1]})
    keys = ["a", "b/ü", "c", "d", "missing"]
    orm = list(
        AlertGroup.objects.select_related("ticket")
        .filter(integration=integration, dedup_key__in=keys, is_open=True)
        .order_by("dedup_key")
    )
    with transaction.atomic():
        fast = services.locked_groups_sql(integration.pk, keys)

    def fields(obj) -> list:
        return [getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields]

    assert [g.dedup_key for g in fast] == ["a", "b/ü", "c", "d"]
    assert [fields(g) for g in fast] == [fields(g) for g in orm]
    assert [fields(g.ticket) if g.ticket else None for g in fast] == [
        fields(g.ticket) if g.ticket else None for g in orm
    ]
    assert fast[0].ticket.reference == orm[0].ticket.reference and fast[3].ticket is None
    assert fast[0].count == 2 and fast[0].labels == {"instance": "a"}
