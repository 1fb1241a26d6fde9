"""Reads of the agent UI: list filtering, keyset pagination, the merged timeline."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import MessageFactory, TeamFactory, TicketFactory, UserFactory
from tickets import selectors, services
from tickets.models import Ticket, TicketEvent
from tickets.selectors import SORTS, Scope, TicketFilters, ticket_list_filter, ticket_page


def walk(qs, sort: str, per_page: int) -> list[Ticket]:
    """Every ticket of `qs`, page by page through the `after` cursors."""
    seen: list[Ticket] = []
    page = ticket_page(qs, sort=sort, per_page=per_page)
    seen += page.tickets
    while page.next_cursor:
        page = ticket_page(qs, sort=sort, per_page=per_page, after=page.next_cursor)
        seen += page.tickets
    return seen


def walk_back(qs, sort: str, per_page: int) -> list[Ticket]:
    """From the last page back to the first through the `before` cursors."""
    page = ticket_page(qs, sort=sort, per_page=per_page)
    while page.next_cursor:
        page = ticket_page(qs, sort=sort, per_page=per_page, after=page.next_cursor)
    pages = [page.tickets]
    while page.prev_cursor:
        page = ticket_page(qs, sort=sort, per_page=per_page, before=page.prev_cursor)
        pages.insert(0, page.tickets)
    return [t for tickets in pages for t in tickets]


@pytest.fixture
def crowded(agent, team_a):
    """17 tickets with many ties on every sort column, so the pk tie-breaker matters."""
    base = timezone.now().replace(microsecond=0)
    tickets = []
    for i in range(17):
        tickets.append(
            TicketFactory(
                team=team_a,
                impact=1 + i % 4,
                urgency=1 + (i // 4) % 4,
                created_at=base - timedelta(minutes=i % 3),
                updated_at=base - timedelta(minutes=i % 2),
            )
        )
    return tickets


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("per_page", [1, 4, 5, 17, 50])
def test_keyset_pages_follow_the_full_ordering(agent, crowded, sort, per_page):
    qs = ticket_list_filter(agent, TicketFilters(sort=sort))
    expected = list(qs)
    assert len(expected) == 17
    assert walk(qs, sort, per_page) == expected
    assert walk_back(qs, sort, per_page) == expected


def test_first_page_has_no_previous_and_a_next(agent, crowded):
    qs = ticket_list_filter(agent, TicketFilters())
    page = ticket_page(qs, sort="-created", per_page=5)
    assert page.prev_cursor is None
    assert page.next_cursor is not None
    assert (page.total, page.total_capped) == (17, False)


def test_going_back_to_the_start_gives_a_full_first_page(agent, crowded):
    qs = ticket_list_filter(agent, TicketFilters())
    first = ticket_page(qs, sort="-created", per_page=5)
    second = ticket_page(qs, sort="-created", per_page=5, after=first.next_cursor)
    # A ticket of page 1 leaves the list (here: deleted) while the agent is on page 2.
    Ticket.objects.filter(pk=first.tickets[0].pk).delete()
    back = ticket_page(qs, sort="-created", per_page=5, before=second.prev_cursor)
    assert back.tickets == list(qs[:5])
    assert back.prev_cursor is None


def test_going_back_reaches_tickets_that_arrived_meanwhile(agent, crowded):
    qs = ticket_list_filter(agent, TicketFilters())
    first = ticket_page(qs, sort="-created", per_page=5)
    second = ticket_page(qs, sort="-created", per_page=5, after=first.next_cursor)
    newcomer = TicketFactory(team=crowded[0].team, created_at=timezone.now() + timedelta(hours=1))
    back = ticket_page(qs, sort="-created", per_page=5, before=second.prev_cursor)
    assert back.tickets == first.tickets
    top = ticket_page(qs, sort="-created", per_page=5, before=back.prev_cursor)
    assert top.tickets[0] == newcomer


def b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage!",
        b64({}),
        b64([]),
        b64({"s": "-created"}),
        b64({"s": "-created", "v": [1, 2]}),
        b64({"s": "-created", "v": ["not a date", 1]}),
        b64({"s": "-created", "v": ["2026-01-01T00:00:00", 1]}),  # naive
        b64({"s": "-created", "v": ["2026-01-01T00:00:00+00:00", True]}),
        b64({"s": "-created", "v": ["2026-01-01T00:00:00+00:00", 1, 2]}),
        b64({"s": "nope", "v": [1]}),
    ],
)
def test_bad_cursors_give_the_first_page(agent, crowded, cursor):
    qs = ticket_list_filter(agent, TicketFilters())
    first = ticket_page(qs, sort="-created", per_page=5)
    for key in ("after", "before"):
        page = ticket_page(qs, sort="-created", per_page=5, **{key: cursor})
        assert page.tickets == first.tickets


def test_a_cursor_of_another_sort_is_ignored(agent, crowded):
    qs = ticket_list_filter(agent, TicketFilters(sort="priority"))
    other = ticket_page(ticket_list_filter(agent, TicketFilters()), sort="-created", per_page=3)
    page = ticket_page(qs, sort="priority", per_page=3, after=other.next_cursor)
    assert page.tickets == list(qs[:3])


def test_count_is_capped(agent, team_a, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    TicketFactory.create_batch(5, team=team_a)
    page = ticket_page(ticket_list_filter(agent, TicketFilters()), sort="-created", per_page=2)
    assert (page.total, page.total_capped) == (3, True)


def test_scopes(agent, team_a, team_b, other_agent):
    lead_team = TeamFactory(name="Led", lead=agent)
    mine_elsewhere = TicketFactory(team=team_b, assignee=agent)
    in_team = TicketFactory(team=team_a)
    led = TicketFactory(team=lead_team)
    followed = TicketFactory(team=team_b)
    followed.watchers.add(agent)
    TicketFactory(team=team_b)  # invisible

    def scope(name: str) -> set[Ticket]:
        return set(ticket_list_filter(agent, TicketFilters(scope=name)))

    assert scope(Scope.MINE) == {mine_elsewhere}
    assert scope(Scope.TEAMS) == {in_team, led}
    assert scope(Scope.ALL) == {mine_elsewhere, in_team, led, followed}


def test_list_filter_for_anonymous_is_empty(team_a):
    from django.contrib.auth.models import AnonymousUser

    TicketFactory(team=team_a)
    assert not ticket_list_filter(AnonymousUser(), TicketFilters()).exists()


def test_ticket_for_user_is_404_when_invisible(agent, team_b):
    from django.http import Http404

    ticket = TicketFactory(team=team_b)
    with pytest.raises(Http404):
        selectors.ticket_for_user(agent, ticket.reference)


def test_timeline_merges_messages_and_events_in_order(agent, team_a):
    t0 = timezone.now() - timedelta(hours=1)
    ticket = services.ticket_create(
        actor=agent,
        data=services.NewTicket(subject="s", description="d", team=team_a),
        now=t0,
    )
    services.ticket_reply(ticket=ticket, actor=agent, body="first", now=t0 + timedelta(minutes=1))
    services.ticket_transition(
        ticket=ticket, actor=agent, name="open", now=t0 + timedelta(minutes=2)
    )
    services.ticket_transition(
        ticket=ticket, actor=agent, name="pend", now=t0 + timedelta(minutes=3)
    )
    # A customer answer resumes the pending ticket: message and automatic event, same instant.
    services.ticket_add_customer_message(
        ticket=ticket, body="thanks", author_name="Cust", now=t0 + timedelta(minutes=4)
    )
    services.ticket_add_note(ticket=ticket, actor=agent, body="note", now=t0 + timedelta(minutes=5))
    services.ticket_reply(ticket=ticket, actor=agent, body="second", now=t0 + timedelta(minutes=6))

    timeline = selectors.ticket_timeline(ticket)
    shape = [
        e.message.body if e.kind == "message" else f"{e.event.kind}:{e.event.payload.get('to', '')}"
        for e in timeline
    ]
    assert shape == [
        "created:",
        "first",
        "transitioned:open",
        "transitioned:pending",
        "thanks",
        "transitioned:open",
        "note",
        "second",
    ]
    # The reply/note/customer events are folded into their messages; the first reply is marked.
    assert [e.first_response for e in timeline if e.kind == "message"] == [
        True,
        False,
        False,
        False,
    ]
    kinds = {e.event.kind for e in timeline if e.kind == "event"}
    assert not kinds & {TicketEvent.Kind.REPLIED, TicketEvent.Kind.NOTE_ADDED}


def test_timeline_keeps_messages_without_events(agent, team_a):
    # Imported history may have messages but no events; they still show.
    ticket = TicketFactory(team=team_a)
    MessageFactory(ticket=ticket, body="from the old helpdesk", author=UserFactory())
    timeline = selectors.ticket_timeline(ticket)
    assert [e.message.body for e in timeline] == ["from the old helpdesk"]


# --- SLA: the due-soonest sort, the filters and the list badge ---------------------------------


@pytest.fixture
def due_tickets(agent, team_a):
    """Tickets whose earliest live deadline ties often, is missing, or is not live any more."""
    base = timezone.now().replace(microsecond=0)
    tickets = []
    for i in range(13):
        hours = timedelta(hours=i % 4)
        tickets.append(
            TicketFactory(
                team=team_a,
                first_response_due_at=base + hours if i % 3 else None,
                first_responded_at=base if i % 5 == 0 else None,
                next_update_due_at=base + timedelta(hours=1) if i % 6 == 1 else None,
                resolution_due_at=base + timedelta(hours=2) if i % 2 else None,
                status=Ticket.Status.RESOLVED if i == 12 else Ticket.Status.OPEN,
            )
        )
    return tickets


@pytest.mark.parametrize("per_page", [1, 3, 5, 13])
def test_due_sort_pages_follow_the_full_ordering(agent, due_tickets, per_page):
    qs = ticket_list_filter(agent, TicketFilters(sort="due"))
    expected = list(qs)
    assert len(expected) == 13
    assert walk(qs, "due", per_page) == expected
    assert walk_back(qs, "due", per_page) == expected


def test_due_sort_orders_by_the_earliest_unmet_deadline(agent, due_tickets):
    def earliest(ticket: Ticket):
        if not ticket.is_active:
            return selectors.NO_DEADLINE
        dues = [ticket.next_update_due_at, ticket.resolution_due_at]
        if ticket.first_responded_at is None:
            dues.append(ticket.first_response_due_at)
        return min((d for d in dues if d is not None), default=selectors.NO_DEADLINE)

    ordered = list(ticket_list_filter(agent, TicketFilters(sort="due")))
    assert ordered == sorted(due_tickets, key=lambda t: (earliest(t), t.pk))
    assert [t.sla_due for t in ordered] == [earliest(t) for t in ordered]


@pytest.mark.postgres
def test_due_sort_can_walk_the_due_time_index(agent, due_tickets):
    """The list's ORDER BY is the indexed expression word for word: with sorting and
    sequential scans priced out, PostgreSQL pages through `ticket_sla_due` in order (what it
    chooses on its own at 100,000 tickets) instead of sorting every visible ticket."""
    qs = ticket_list_filter(agent, TicketFilters(sort="due"))[:26]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = qs.explain()
    assert "ticket_sla_due" in plan
    assert list(qs) == list(ticket_list_filter(agent, TicketFilters(sort="due")))[:26]


def sla_ticket(**columns) -> Ticket:
    """An unsaved ticket with SLA columns: `sla_badge` reads nothing else."""
    return Ticket(status=columns.pop("status", Ticket.Status.OPEN), **columns)


NOW = timezone.now()
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("columns", "state", "target"),
    [
        (
            {"first_response_due_at": NOW + 2 * H, "first_response_warning_at": NOW + H},
            "running",
            "first_response",
        ),
        # The warning instant has passed: amber even before the sweep records it.
        (
            {"first_response_due_at": NOW + 2 * H, "first_response_warning_at": NOW - H},
            "warning",
            "first_response",
        ),
        ({"resolution_due_at": NOW + 9 * H, "resolution_warned_at": NOW}, "warning", "resolution"),
        ({"resolution_due_at": NOW - H}, "breached", "resolution"),
        ({"resolution_due_at": NOW + H, "resolution_breached_at": NOW}, "breached", "resolution"),
        # The most urgent live target speaks: a warning beats an earlier running deadline.
        (
            {
                "first_response_due_at": NOW + H,
                "resolution_due_at": NOW + 2 * H,
                "resolution_warning_at": NOW - H,
            },
            "warning",
            "resolution",
        ),
        # A met first response is not live; its breach is remembered, not shown as the state.
        (
            {
                "first_responded_at": NOW,
                "first_response_due_at": NOW - H,
                "first_response_breached_at": NOW,
                "resolution_due_at": NOW + 5 * H,
            },
            "running",
            "resolution",
        ),
        ({"sla_paused_at": NOW - H}, "paused", "resolution"),
        ({"sla_paused_at": NOW - H, "resolution_due_at": NOW - H}, "breached", "resolution"),
    ],
)
def test_sla_badge_states(columns, state, target):
    badge = selectors.sla_badge(sla_ticket(**columns), NOW)
    assert badge is not None
    assert (badge.state, badge.target) == (state, target)
    if badge.due_at is not None:
        assert badge.remaining == badge.due_at - NOW
        assert badge.overdue == (badge.due_at < NOW)


def test_sla_badge_remembers_earlier_breaches():
    badge = selectors.sla_badge(
        sla_ticket(
            first_responded_at=NOW,
            first_response_due_at=NOW - H,
            first_response_breached_at=NOW - H,
            resolution_due_at=NOW + H,
        ),
        NOW,
    )
    assert badge.breached_before == ("first_response",)
    assert badge.breached_before_labels == ["First response"]


@pytest.mark.parametrize(
    "columns",
    [
        {},
        {"status": Ticket.Status.RESOLVED, "resolution_due_at": NOW - H},
        {"first_responded_at": NOW, "first_response_due_at": NOW},
    ],
)
def test_no_sla_badge(columns):
    assert selectors.sla_badge(sla_ticket(**columns), NOW) is None
