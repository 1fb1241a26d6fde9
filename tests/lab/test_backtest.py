"""The backtest over the database: histories read in a fixed number of queries, the draft read
without changing anything live, the command's progress and report, the result page, cancel."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from lab import backtest, versions
from lab.models import BacktestRun
from sla.models import SLATarget
from tests.factories import AdminFactory, TeamFactory, TicketFactory, UserFactory
from tests.lab.test_versions import POLICY, with_first_response
from tickets.models import SupportLevel, TicketEvent

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# A Monday, 10:00 in Berlin: the office (08:00–18:00) is open.
CREATED = dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def setup(db):
    root = AdminFactory(username="root")
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    second = TeamFactory(name="Second line", level=level2)
    first = TeamFactory(name="First line", level=level1, escalates_to=second)
    ticket = TicketFactory(
        reference="HD-2026-000812", team=first, priority=2, created_at=CREATED, open=True
    )
    draft = versions.new_draft(name="Faster first response", reason="", user=root)
    draft.document = with_first_response(draft.document, "1h", "30m")
    draft.save()
    return root, ticket, draft


def escalations(run: BacktestRun, side: str) -> list[tuple[str, str, int]]:
    course = run.result["differences"][0][side]
    return [(x["at"], x["team"], x["level"]) for x in course if x["kind"] == "escalated"]


def test_the_draft_escalates_at_its_own_first_response_deadline(setup):
    root, ticket, draft = setup
    run = backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW)
    run = backtest.execute(run.pk)
    assert run.status == BacktestRun.Status.DONE
    assert (run.total, run.done, run.result["differing"]) == (1, 1, 1)
    # 1 h of office time after Monday 10:00 Berlin is 11:00 (10:00 UTC); 30 min: 10:30.
    assert escalations(run, "live")[0] == ("2026-11-16T10:00:00+00:00", "Second line", 2)
    assert escalations(run, "draft")[0] == ("2026-11-16T09:30:00+00:00", "Second line", 2)
    # Nothing live changed.
    target = SLATarget.objects.get(policy__name=POLICY, priority=2)
    assert target.first_response == dt.timedelta(hours=1)
    assert not TicketEvent.objects.filter(ticket=ticket, kind="escalated").exists()


def test_the_backtest_is_deterministic(setup):
    root, _ticket, draft = setup
    runs = [
        backtest.execute(backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW).pk)
        for _ in range(2)
    ]
    assert runs[0].result == runs[1].result
    assert runs[0].result["days"]


def test_histories_are_read_in_a_fixed_number_of_queries(setup, django_assert_max_num_queries):
    _root, ticket, _draft = setup
    second = ticket.team.escalates_to
    for n in range(30):
        TicketFactory(team=ticket.team, created_at=CREATED + dt.timedelta(minutes=n))
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.TEAM_CHANGED,
        actor=_root,
        payload={"from": "First line", "to": "Second line"},
        created_at=CREATED + dt.timedelta(minutes=5),
    )
    ids = backtest.ticket_ids(CREATED, NOW)
    with django_assert_max_num_queries(2):
        histories = backtest.read_histories(
            ids, {"First line": ticket.team_id, "Second line": second.pk}
        )
    assert len(histories) == 31
    mine = next(h for h in histories if h.ticket_id == ticket.pk)
    assert [(s.kind, s.team_id) for s in mine.steps] == [("team", second.pk)]


def test_the_command_shows_progress_and_the_parting(setup):
    _root, _ticket, draft = setup
    out, err = io.StringIO(), io.StringIO()
    call_command("backtest", "--draft", str(draft.pk), "--days", "90", stdout=out, stderr=err)
    assert "1/1 (100%)" in err.getvalue()
    text = out.getvalue()
    assert "1 ticket(s) replayed, 1 with a different course." in text
    assert "Draft: warns about the first response target of HD-2026-000812" in text


def test_the_result_page_shows_both_courses(client, setup):
    root, _ticket, draft = setup
    run = backtest.execute(backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW).pk)
    client.force_login(root)
    body = client.get(reverse("admin:lab_backtestrun_change", args=[run.pk])).content.decode()
    assert "Tickets whose course differs" in body
    assert "escalates HD-2026-000812 to level 2 (Second line) on Mon 16 Nov 10:30" in body
    assert "escalates HD-2026-000812 to level 2 (Second line) on Mon 16 Nov 11:00" in body
    assert "Second line: 1 → 1 (+0), peak 10:00" in body


def test_a_cancelled_run_stops(client, setup):
    root, _ticket, draft = setup
    run = backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW)
    client.force_login(root)
    response = client.post(reverse("admin:lab_backtestrun_cancel", args=[run.pk]))
    assert response.status_code == 302
    run = backtest.execute(run.pk)
    assert run.status == BacktestRun.Status.CANCELLED
    assert run.result == {}


def test_a_draft_with_problems_fails_with_them(setup):
    root, _ticket, draft = setup
    draft.document = draft.document.replace("first_response: 30m", "first_response: soon", 1)
    draft.save()
    run = backtest.execute(backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW).pk)
    assert run.status == BacktestRun.Status.FAILED
    assert "not a duration" in run.problems[0][1]


def test_the_admin_starts_a_run_in_the_worker_and_its_page_follows_it(
    client, setup, django_capture_on_commit_callbacks, monkeypatch
):
    root, _ticket, draft = setup
    queued = []
    monkeypatch.setattr("lab.tasks.run_backtest.delay", queued.append)
    client.force_login(root)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:lab_draft_changelist"),
            {"action": "run_backtest", "_selected_action": [draft.pk]},
        )
    run = BacktestRun.objects.get()
    assert queued == [run.pk]
    assert response.url == reverse("admin:lab_backtestrun_change", args=[run.pk])
    body = client.get(response.url).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in body
    assert "Cancel the backtest" in body
    assert "0 of 0 tickets (0 %)" in body
    backtest.execute(run.pk)
    body = client.get(response.url).content.decode()
    assert "refresh" not in body
    assert "Tickets whose course differs" in body


def test_view_only_staff_may_not_cancel_a_run(client, setup):
    root, _ticket, draft = setup
    run = backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW)
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="lab", codename__startswith="view_")
    )
    client.force_login(viewer)
    page = client.get(reverse("admin:lab_backtestrun_change", args=[run.pk]))
    assert page.status_code == 200
    assert "Cancel the backtest" not in page.content.decode()
    response = client.post(reverse("admin:lab_backtestrun_cancel", args=[run.pk]))
    assert response.status_code == 403
    run.refresh_from_db()
    assert not run.cancel_requested
    assert backtest.execute(run.pk).status == BacktestRun.Status.DONE
