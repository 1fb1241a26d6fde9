"""SLA admin: pages load, validation shows as form errors, recomputation and the matrix grid."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from sla.models import BusinessCalendar, CalendarException, SeverityMatrix, SLAPolicy
from tests.factories import CustomerFactory
from tickets import services

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def client_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def calendar_post(name: str, hours: list[tuple[int, str, str]], **extra) -> dict:
    data = {
        "name": name,
        "timezone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "",
        "opening_hours-TOTAL_FORMS": str(len(hours)),
        "opening_hours-INITIAL_FORMS": "0",
        "exceptions-TOTAL_FORMS": "0",
        "exceptions-INITIAL_FORMS": "0",
        **extra,
    }
    for i, (day, start, end) in enumerate(hours):
        data |= {
            f"opening_hours-{i}-weekday": str(day),
            f"opening_hours-{i}-start": start,
            f"opening_hours-{i}-end": end,
        }
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["businesscalendar", "slapolicy", "tiertarget", "severitymatrix"])
def test_changelists_and_change_pages_load(client_admin, model):
    response = client_admin.get(reverse(f"admin:sla_{model}_changelist"))
    assert response.status_code == 200
    # The defaults from the data migration, each rendered as a row with its link.
    rows = list(response.context["cl"].model._default_manager.all())
    assert rows and set(response.context["cl"].result_list) == set(rows)
    body = response.content.decode()
    for row in rows:
        assert reverse(f"admin:sla_{model}_change", args=[row.pk]) in body
    obj = rows[0]
    response = client_admin.get(reverse(f"admin:sla_{model}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert f"<h2>{escape(str(obj))}</h2>" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Tue, 12/08/2026 8 a.m. CET, Wed, 12/09/2026 8 a.m. CET"),
        ("de", "Di, 08.12.2026 08:00 CET, Mi, 09.12.2026 08:00 CET"),
    ],
)
def test_calendar_page_shows_next_openings_and_holidays(client_admin, language, expected):
    calendar = BusinessCalendar.objects.get(name="Office hours DE")
    client_admin.cookies["django_language"] = language
    # Monday evening, after closing: the next openings are the following mornings.
    with time_machine.travel(dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.UTC), tick=False):
        response = client_admin.get(
            reverse("admin:sla_businesscalendar_change", args=[calendar.pk])
        )
    text = response.content.decode()
    assert expected in text
    assert "Christmas" in text or "Weihnacht" in text


@pytest.mark.django_db
def test_calendar_page_lists_the_holidays_of_the_next_twelve_months(client_admin):
    calendar = BusinessCalendar.objects.get(name="Office hours DE")
    calendar.exceptions.create(
        date=dt.date(2026, 12, 24), kind=CalendarException.Kind.CLOSED, name="Office party"
    )
    client_admin.cookies["django_language"] = "en"
    # Friday 27 November 2026, 17:00 in Berlin: the next twelve months hold this year's
    # Christmas (with the custom closure) and next year's holidays up to German Unity Day.
    with time_machine.travel(dt.datetime(2026, 11, 27, 17, tzinfo=BERLIN), tick=False):
        response = client_admin.get(
            reverse("admin:sla_businesscalendar_change", args=[calendar.pk])
        )
    body = response.content.decode()
    assert (
        "Dec. 24, 2026 (Office party), Dec. 25, 2026 (Christmas Day), "
        "Dec. 26, 2026 (Second Day of Christmas), Jan. 1, 2027 (New Year&#x27;s Day), "
        "March 26, 2027 (Good Friday), March 29, 2027 (Easter Monday), May 1, 2027 (Labor Day), "
        "May 6, 2027 (Ascension Day), May 17, 2027 (Pentecost Monday), "
        "Oct. 3, 2027 (German Unity Day)</div>"
    ) in body


@pytest.mark.django_db
def test_view_only_staff_sees_a_calendar_read_only(client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_businesscalendar"))
    client.force_login(user)
    calendar = BusinessCalendar.objects.get(name="Office hours DE")
    response = client.get(reverse("admin:sla_businesscalendar_change", args=[calendar.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Europe/Berlin" in text
    assert 'name="timezone"' not in text


@pytest.mark.django_db
def test_valid_calendar_with_overnight_shift_is_saved(client_admin):
    data = calendar_post("Night shift", [(0, "22:00", "06:00"), (1, "08:00", "16:00")])
    response = client_admin.post(reverse("admin:sla_businesscalendar_add"), data)
    assert response.status_code == 302, response.context["errors"]
    assert BusinessCalendar.objects.get(name="Night shift").opening_hours.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hours",
    [
        [(0, "08:00", "12:00"), (0, "11:00", "14:00")],  # overlap within a day
        [(0, "22:00", "06:00"), (1, "05:00", "09:00")],  # overnight runs into Tuesday's hours
    ],
)
def test_overlapping_intervals_are_refused(client_admin, hours):
    response = client_admin.post(
        reverse("admin:sla_businesscalendar_add"), calendar_post("Broken", hours)
    )
    assert response.status_code == 200
    assert not BusinessCalendar.objects.filter(name="Broken").exists()
    assert response.context["inline_admin_formsets"][0].formset.non_form_errors()


@pytest.mark.django_db
def test_calendar_without_open_time_is_refused(client_admin):
    response = client_admin.post(
        reverse("admin:sla_businesscalendar_add"), calendar_post("Never", [])
    )
    assert response.status_code == 200
    assert not BusinessCalendar.objects.filter(name="Never").exists()
    response = client_admin.post(
        reverse("admin:sla_businesscalendar_add"),
        calendar_post("Always", [], always_open="on"),
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_warning_threshold_must_be_below_100_percent(client_admin):
    policy = SLAPolicy.objects.get(name="Standard office hours")
    target = policy.targets.get(priority=3)
    target.warning_percent = 120
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        target.full_clean()
    assert "warning_percent" in info.value.message_dict


@pytest.mark.django_db
def test_severity_matrix_is_edited_as_a_grid(client_admin):
    matrix = SeverityMatrix.objects.get(is_active=True)
    url = reverse("admin:sla_severitymatrix_change", args=[matrix.pk])
    page = client_admin.get(url)
    form = page.context["adminform"].form
    data = {"name": matrix.name, "is_active": "on"}
    for name, field in form.fields.items():
        if name.startswith("cell_"):
            data[name] = str(form.initial.get(name, field.initial))
    data["cell_4_4"] = "3"
    response = client_admin.post(url, data)
    assert response.status_code == 302
    matrix.refresh_from_db()
    assert matrix.grid["4,4"] == 3
    assert matrix.grid["1,1"] == 1


@pytest.mark.django_db
def test_recompute_action_moves_deadlines_after_a_holiday(client_admin, agent, team_a):
    ticket = services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject="s", description="", team=team_a, customer=CustomerFactory()
        ),
        now=dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC),
    )
    ticket.refresh_from_db()
    before = ticket.resolution_due_at
    calendar = ticket.sla_policy.calendar
    calendar.exceptions.create(date=dt.date(2026, 3, 3), kind="closed", name="Strike")
    calendar.save()
    response = client_admin.post(
        reverse("admin:sla_businesscalendar_changelist"),
        {"action": "recompute_open_tickets", "_selected_action": [calendar.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Recomputed" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.resolution_due_at - before == dt.timedelta(days=1)


@pytest.mark.django_db
def test_recompute_command(agent, team_a, capsys):
    from django.core.management import call_command

    services.ticket_create(
        actor=agent, data=services.NewTicket(subject="s", description="", team=team_a)
    )
    call_command("recompute_sla", "--calendar", "Office hours DE")
    captured = capsys.readouterr()
    assert re.search(r"Recomputed 1 of 1 tickets \(\d[\d,]* tickets/s\)\.", captured.out)
    # The progress bar (a line per tenth when stderr is not a terminal).
    assert re.search(r"\[#{30}\] 1/1 tickets, [\d,]+/s", captured.err)


@pytest.mark.django_db
def test_recompute_command_resumes_from_an_id(agent, team_a, capsys):
    from django.core.management import call_command

    _first, second, _third = (
        services.ticket_create(
            actor=agent, data=services.NewTicket(subject=f"s{i}", description="", team=team_a)
        )
        for i in range(3)
    )
    call_command("recompute_sla", "--from-id", str(second.pk), "--no-progress")
    captured = capsys.readouterr()
    assert "Recomputed 2 of 2 tickets" in captured.out
    assert captured.err == ""


@pytest.mark.django_db
def test_recompute_command_says_where_to_resume_when_interrupted(agent, team_a, monkeypatch):
    from django.core.management import CommandError, call_command

    tickets = [
        services.ticket_create(
            actor=agent, data=services.NewTicket(subject=f"s{i}", description="", team=team_a)
        )
        for i in range(3)
    ]

    def interrupted(ids, *, progress, now=None):
        progress(1, len(ids))  # one batch committed, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr("sla.management.commands.recompute_sla.sla_recompute_many", interrupted)
    with pytest.raises(CommandError) as error:
        call_command("recompute_sla", "--no-progress")
    assert str(error.value) == (
        f"Interrupted after 1 of 3 tickets; resume with --from-id {tickets[1].pk}."
    )


@pytest.mark.django_db
def test_a_large_recomputation_runs_in_the_background_with_its_progress_in_the_admin(
    client_admin, agent, team_a, monkeypatch, django_capture_on_commit_callbacks
):
    from sla import admin as sla_admin
    from sla import tasks
    from sla.models import RecomputeRun

    monkeypatch.setattr(sla_admin, "RECOMPUTE_INLINE_LIMIT", 1)
    monkeypatch.setattr(tasks, "RECOMPUTE_CHUNK", 2)
    queued = []
    monkeypatch.setattr(
        tasks.recompute_ticket_clocks, "delay", lambda ids, run_id: queued.append((ids, run_id))
    )
    for i in range(3):
        services.ticket_create(
            actor=agent, data=services.NewTicket(subject=f"s{i}", description="", team=team_a)
        )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_admin.post(
            reverse("admin:sla_businesscalendar_changelist"),
            {
                "action": "recompute_open_tickets",
                "_selected_action": list(
                    BusinessCalendar.objects.filter(name="Office hours DE").values_list(
                        "pk", flat=True
                    )
                ),
            },
            follow=True,
        )
    run = RecomputeRun.objects.get()
    assert "Recomputing 3 tickets in the background." in response.content.decode()
    assert reverse("admin:sla_recomputerun_change", args=[run.pk]) in response.content.decode()
    assert (run.subject, run.total, run.done, run.finished_at) == ("Office hours DE", 3, 0, None)
    assert [len(ids) for ids, run_id in queued] == [2, 1]
    assert {run_id for _ids, run_id in queued} == {run.pk}

    for ids, run_id in queued:  # what the worker does with each chunk
        tasks.recompute_ticket_clocks(ids, run_id=run_id)
        page = client_admin.get(reverse("admin:sla_recomputerun_change", args=[run.pk]))
        run.refresh_from_db()
        assert f"{run.done} of 3 tickets ({run.percent} %)" in page.content.decode()
    assert run.done == 3 and run.finished_at is not None


@pytest.mark.django_db
def test_active_policy_must_cover_every_priority_in_its_range(client_admin):
    from sla.models import BusinessCalendar

    calendar = BusinessCalendar.objects.get(name="24/7")
    data = {
        "name": "Gold",
        "order": "5",
        "is_active": "on",
        "calendar": calendar.pk,
        "contract": "Gold",
        "priority_min": "1",
        "priority_max": "2",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-0-priority": "1",
        "targets-0-first_response": "00:15:00",
        "targets-0-resolution": "04:00:00",
        "targets-0-warning_percent": "75",
    }
    response = client_admin.post(reverse("admin:sla_slapolicy_add"), data)
    assert response.status_code == 200
    assert "missing: Sev 2" in response.content.decode()
    assert not SLAPolicy.objects.filter(name="Gold").exists()
    data |= {
        "targets-TOTAL_FORMS": "2",
        "targets-1-priority": "2",
        "targets-1-first_response": "01:00:00",
        "targets-1-resolution": "08:00:00",
        "targets-1-warning_percent": "75",
    }
    response = client_admin.post(reverse("admin:sla_slapolicy_add"), data)
    assert response.status_code == 302
    assert SLAPolicy.objects.get(name="Gold").targets.count() == 2


@pytest.mark.django_db
def test_special_hours_must_not_overlap_the_weekly_night_shift(client_admin):
    data = calendar_post(
        "Night shift",
        [(0, "22:00", "06:00")],
        **{
            "exceptions-TOTAL_FORMS": "1",
            "exceptions-0-date": "2026-03-03",  # the Tuesday after a Monday night shift
            "exceptions-0-kind": "special",
            "exceptions-0-start": "05:00",
            "exceptions-0-end": "09:00",
            "exceptions-0-name": "Inventory",
        },
    )
    response = client_admin.post(reverse("admin:sla_businesscalendar_add"), data)
    assert response.status_code == 200
    assert not BusinessCalendar.objects.filter(name="Night shift").exists()
    assert response.context["inline_admin_formsets"][1].formset.non_form_errors()


@pytest.mark.django_db
def test_an_invalid_stored_calendar_does_not_break_ticket_writes(agent, team_a, caplog):
    from sla.models import OpeningHours

    calendar = BusinessCalendar.objects.get(name="Office hours DE")
    OpeningHours.objects.create(calendar=calendar, weekday=0, start="09:00", end="10:00")
    calendar.save()
    ticket = services.ticket_create(
        actor=agent, data=services.NewTicket(subject="s", description="", team=team_a)
    )
    ticket.refresh_from_db()
    assert ticket.first_response_due_at is not None  # counted 24/7 meanwhile
    assert "is invalid" in caplog.text
