"""`manage.py config export/import`: the escalation configuration as a YAML file."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import yaml
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command

from escalation.models import EscalationRule
from lab.config import SECTIONS, dump, export_configuration, format_duration
from lab.models import ConfigVersion
from lab.services import config_import
from notifications.models import WebhookEndpoint
from sla.models import (
    BusinessCalendar,
    CalendarException,
    RecomputeRun,
    SeverityMatrix,
    SLAPolicy,
    SLATarget,
)
from tests.factories import AdminFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import SupportLevel, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(db):
    """The seeded configuration plus a chain of teams, people, closures and a webhook."""
    lead, member = UserFactory(username="lena"), UserFactory(username="max")
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    second = TeamFactory(name="Second line", level=level2, lead=lead, members=[lead])
    first = TeamFactory(
        name="First line",
        level=level1,
        escalates_to=second,
        members=[member, lead],
        email="first@example.com",
    )
    TeamFactory(name="Database experts", level=level2, kind=Team.Kind.FUNCTIONAL, is_active=False)
    office = BusinessCalendar.objects.get(name="Office hours DE")
    CalendarException.objects.create(calendar=office, date=dt.date(2026, 12, 24), name="Xmas Eve")
    CalendarException.objects.create(
        calendar=office,
        date=dt.date(2026, 12, 31),
        kind=CalendarException.Kind.SPECIAL,
        start=dt.time(9),
        end=dt.time(12),
    )
    WebhookEndpoint.objects.create(url="https://hooks.example.com/in", description="Ops chat")
    rule = EscalationRule.objects.get(trigger=EscalationRule.TriggerChoice.NO_PROGRESS)
    rule.teams.add(first, second)
    rule.levels.add(level1)
    rule.notify_users.add(lead)
    SLAPolicy.objects.get(name="Standard office hours").teams.add(first)
    return AdminFactory(username="root")


def export_text() -> str:
    out = io.StringIO()
    call_command("config", "export", stdout=out)
    return out.getvalue()


def clear_configuration() -> None:
    for section in reversed(SECTIONS):
        section.model.objects.all().delete()


def import_file(tmp_path, text: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("config", "import", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def edited(text: str, change) -> str:
    document = yaml.safe_load(text)
    change(document)
    return dump(document)


def test_export_is_readable_sorted_and_without_ids_or_secrets(configured):
    text = export_text()
    document = yaml.safe_load(text)
    assert list(document) == [s.name for s in SECTIONS]
    assert [t["name"] for t in document["teams"]] == [
        "Database experts",
        "First line",
        "Second line",
    ]
    first = document["teams"][1]
    assert first["level"] == 1
    assert first["escalates_to"] == "Second line"
    assert first["members"] == ["lena", "max"]
    assert first["email"] == "first@example.com"
    rule = next(r for r in document["escalation_rules"] if r["trigger"] == "no_progress")
    assert (rule["teams"], rule["levels"], rule["notify_users"]) == (
        ["First line", "Second line"],
        [1],
        ["lena"],
    )
    assert document["teams"][2]["lead"] == "lena"
    office = next(c for c in document["business_calendars"] if c["name"] == "Office hours DE")
    assert office["holiday_country"] == "DE"
    assert office["exceptions"] == [
        {"date": "2026-12-24", "kind": "closed", "start": None, "end": None, "name": "Xmas Eve"},
        {"date": "2026-12-31", "kind": "special", "start": "09:00", "end": "12:00", "name": ""},
    ]
    assert [h["weekday"] for h in office["opening_hours"]] == [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
    ]
    assert office["opening_hours"][0] == {"weekday": "monday", "start": "08:00", "end": "18:00"}
    standard = next(p for p in document["sla_policies"] if p["name"] == "Standard office hours")
    assert standard["calendar"] == "Office hours DE"
    assert [t["priority"] for t in standard["targets"]] == [1, 2, 3, 4]
    target = SLATarget.objects.get(policy__name="Standard office hours", priority=1)
    assert standard["targets"][0]["first_response"] == format_duration(target.first_response)
    assert document["webhook_endpoints"] == [
        {
            "url": "https://hooks.example.com/in",
            "description": "Ops chat",
            "event_types": [],
            "is_active": True,
            "disabled_reason": "",
        }
    ]
    assert "secret" not in text
    assert " id:" not in text and "\nid:" not in text
    assert export_text() == text


def test_durations_read_as_people_write_them():
    assert format_duration(dt.timedelta(hours=4)) == "4h"
    assert format_duration(dt.timedelta(minutes=30)) == "30m"
    assert format_duration(dt.timedelta(days=1, hours=2, minutes=5)) == "1d2h5m"
    assert format_duration(dt.timedelta(0)) == "0m"
    assert format_duration(dt.timedelta(seconds=90)) == "0:01:30"


def test_export_then_import_into_an_empty_configuration_gives_the_same_file(configured, tmp_path):
    text = export_text()
    secret = WebhookEndpoint.objects.get().secret
    clear_configuration()
    assert not Team.objects.exists() and not SupportLevel.objects.exists()

    out, _err = import_file(tmp_path, text)

    assert "teams: added First line" in out
    assert export_text() == text
    first = Team.objects.get(name="First line")
    assert first.escalates_to.name == "Second line"
    assert sorted(first.members.values_list("username", flat=True)) == ["lena", "max"]
    # A new endpoint gets a new secret: the file never carries one.
    assert WebhookEndpoint.objects.get().secret not in ("", secret)


def test_importing_the_live_configuration_changes_nothing(configured, tmp_path):
    text = export_text()
    teams = dict(Team.objects.values_list("name", "pk"))
    secret = WebhookEndpoint.objects.get().secret

    out, _err = import_file(tmp_path, text)

    assert "No differences from the live configuration." in out
    assert not LogEntry.objects.exists()
    assert dict(Team.objects.values_list("name", "pk")) == teams
    assert WebhookEndpoint.objects.get().secret == secret
    assert export_text() == text


def test_dry_run_prints_the_differences_and_writes_nothing(configured, tmp_path):
    def change(document):
        policy = next(p for p in document["sla_policies"] if p["name"] == "Standard office hours")
        policy["targets"][0]["first_response"] = "240m"
        first = next(t for t in document["teams"] if t["name"] == "First line")
        first["email"] = "l1@example.com"
        document["teams"] = [t for t in document["teams"] if t["name"] != "Database experts"]
        document["support_levels"].append({"rank": 5, "name": "Board"})

    before = export_text()
    first_response = format_duration(
        SLATarget.objects.get(policy__name="Standard office hours", priority=1).first_response
    )
    out, _err = import_file(tmp_path, edited(before, change), "--dry-run")

    assert "support_levels: added 5" in out
    assert "teams: changed First line\n    email: 'first@example.com' -> 'l1@example.com'" in out
    assert "teams: removed Database experts" in out
    assert (
        "sla_policies: changed Standard office hours\n"
        f"    targets[priority=1].first_response: {first_response!r} -> '4h'\n"
    ) in out
    assert "Dry run: 4 change(s) checked, nothing written." in out
    assert export_text() == before
    assert not SupportLevel.objects.filter(rank=5).exists()


def test_import_applies_and_recomputes_the_open_tickets_clocks(configured, tmp_path):
    TicketFactory(open=True, team=Team.objects.get(name="First line"))
    TicketFactory(closed=True, team=Team.objects.get(name="First line"))

    def change(document):
        policy = next(p for p in document["sla_policies"] if p["name"] == "Standard office hours")
        policy["targets"][0]["first_response"] = "3h"
        document["teams"] = [t for t in document["teams"] if t["name"] != "Database experts"]

    out, _err = import_file(tmp_path, edited(export_text(), change))

    assert "Applied 2 change(s) as configuration version 2." in out
    # Version 1 keeps what was live before, so the import can be rolled back.
    assert list(ConfigVersion.objects.order_by("number").values_list("kind", flat=True)) == [
        "baseline",
        "imported",
    ]
    assert sorted(LogEntry.objects.values_list("user__username", "object_repr")) == [
        ("root", "Database experts"),
        ("root", "Standard office hours"),
    ]
    target = SLATarget.objects.get(policy__name="Standard office hours", priority=1)
    assert target.first_response == dt.timedelta(hours=3)
    assert not Team.objects.filter(name="Database experts").exists()
    run = RecomputeRun.objects.get()
    assert run.total == 1 and run.subject == "Standard office hours"
    assert run.requested_by == configured


def test_a_change_outside_the_sla_queues_no_recomputation(configured, tmp_path):
    TicketFactory(open=True)

    def change(document):
        document["teams"][0]["email"] = "db@example.com"

    import_file(tmp_path, edited(export_text(), change))

    assert Team.objects.get(name="Database experts").email == "db@example.com"
    assert not RecomputeRun.objects.exists()


def test_values_that_are_not_what_they_say_are_named_by_their_path(configured, tmp_path):
    def change(document):
        document["sla_policies"][2]["targets"][1]["first_response"] = "soon"
        document["business_calendars"][1]["opening_hours"][0]["start"] = "8 o'clock"
        document["teams"][1]["colour"] = "blue"
        document["tier_targets"][0]["acknowledge_within"] = "an hour"

    before = export_text()
    path = tmp_path / "config.yaml"
    path.write_text(edited(before, change), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="4 problem"):
        call_command("config", "import", str(path), stderr=err)
    messages = err.getvalue().splitlines()
    assert messages[0].startswith("business_calendars[1].opening_hours[0].start: not a time of day")
    assert "teams[1].colour: unknown field" in messages
    assert any(
        m.startswith("sla_policies[2].targets[1].first_response: not a duration") for m in messages
    )
    assert any(m.startswith("tier_targets[0].acknowledge_within: not a duration") for m in messages)
    assert export_text() == before


def test_unknown_people_and_teams_are_refused(configured, tmp_path):
    def change(document):
        document["teams"][1]["members"].append("nobody")
        document["teams"][1]["escalates_to"] = "Third line"

    before = export_text()
    err = io.StringIO()
    path = tmp_path / "config.yaml"
    path.write_text(edited(before, change), encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("config", "import", str(path), stderr=err)
    assert "teams[1].members: no user 'nobody'" in err.getvalue()
    assert "teams[1].escalates_to: no team 'Third line'" in err.getvalue()
    assert export_text() == before


def test_the_admin_refuses_a_chain_with_a_cycle_and_nothing_is_written(configured, tmp_path):
    def change(document):
        second = next(t for t in document["teams"] if t["name"] == "Second line")
        second["escalates_to"] = "First line"
        second["email"] = "changed@example.com"

    before = export_text()
    result = config_import(text=edited(before, change), user=configured, dry_run=False)

    assert not result.applied
    assert [p.path for p in result.problems] == ["teams[2].escalates_to"]
    assert "loop" in result.problems[0].message or "cycle" in result.problems[0].message
    assert export_text() == before


def test_the_admin_refuses_an_invalid_calendar(configured, tmp_path):
    def change(document):
        office = document["business_calendars"][1]
        office["timezone"] = "Mars/Olympus"
        office["opening_hours"].append({"weekday": "monday", "start": "09:00", "end": "10:00"})

    before = export_text()
    result = config_import(text=edited(before, change), user=configured, dry_run=True)

    paths = [p.path for p in result.problems]
    assert "business_calendars[1].timezone" in paths
    assert "business_calendars[1].opening_hours" in paths
    assert export_text() == before


def test_a_target_the_admin_refuses_is_refused_with_its_message(configured, tmp_path):
    def change(document):
        policy = document["sla_policies"][2]
        policy["targets"][0]["resolution"] = "1m"

    result = config_import(text=edited(export_text(), change), user=configured, dry_run=True)

    assert [str(p) for p in result.problems] == [
        "sla_policies[2].targets[0].resolution: Resolution cannot be due before the first response."
    ]


def test_a_level_still_in_use_cannot_be_removed(configured, tmp_path):
    TicketFactory(open=True, team=Team.objects.get(name="First line"))

    def change(document):
        document["support_levels"] = [lvl for lvl in document["support_levels"] if lvl["rank"] != 1]
        document["teams"] = [t for t in document["teams"] if t["level"] != 1]
        document["tier_targets"] = [t for t in document["tier_targets"] if t["level"] != 1]

    before = export_text()
    result = config_import(text=edited(before, change), user=configured, dry_run=False)

    assert not result.applied
    assert [str(p) for p in result.problems] == [
        "teams: First line is still in use and cannot be removed; keep it in the file "
        "(inactive, where it has an active flag)",
        "support_levels: 1 is still in use and cannot be removed; keep it in the file "
        "(inactive, where it has an active flag)",
    ]
    assert export_text() == before


def test_a_section_left_out_is_left_alone(configured, tmp_path):
    out, _err = import_file(
        tmp_path, dump({"support_levels": yaml.safe_load(export_text())["support_levels"]})
    )

    assert "No differences" in out
    assert Team.objects.count() == 3 and SLAPolicy.objects.exists()


def test_not_yaml_and_no_superuser_are_clear_errors(configured, tmp_path):
    with pytest.raises(CommandError, match="problem"):
        import_file(tmp_path, "teams: [unclosed")
    configured.is_superuser = False
    configured.save()
    with pytest.raises(CommandError, match="No active superuser"):
        import_file(tmp_path, export_text())


def test_export_writes_a_file(configured, tmp_path):
    target = tmp_path / "out.yaml"
    call_command("config", "export", "--output", str(target), stderr=io.StringIO())
    assert target.read_text(encoding="utf-8") == dump(export_configuration())


def test_a_calendar_change_is_shown_row_by_row(configured, tmp_path):
    def change(document):
        office = document["business_calendars"][1]
        office["opening_hours"] = [h for h in office["opening_hours"] if h["weekday"] != "friday"]
        office["opening_hours"].append({"weekday": 5, "start": "10:00", "end": "14:00"})
        office["exceptions"][1]["end"] = "13:00"

    out, _err = import_file(tmp_path, edited(export_text(), change), "--dry-run")

    assert out.splitlines()[:5] == [
        "business_calendars: changed Office hours DE",
        "    opening_hours[weekday=friday, start=08:00]: removed "
        "{'weekday': 'friday', 'start': '08:00', 'end': '18:00'}",
        "    opening_hours[weekday=saturday, start=10:00]: added "
        "{'weekday': 'saturday', 'start': '10:00', 'end': '14:00'}",
        "    exceptions[date=2026-12-31, start=09:00].end: '12:00' -> '13:00'",
        "Dry run: 1 change(s) checked, nothing written.",
    ]


def test_a_weekday_must_be_a_day(configured, tmp_path):
    def change(document):
        document["business_calendars"][1]["opening_hours"][0]["weekday"] = "someday"

    result = config_import(text=edited(export_text(), change), user=configured, dry_run=True)

    assert [str(p) for p in result.problems] == [
        "business_calendars[1].opening_hours[0].weekday: not a weekday ('someday'; write "
        "monday … sunday)"
    ]


def test_a_row_the_admin_refuses_is_named_by_its_place_in_the_file(configured, tmp_path):
    def change(document):
        policy = document["sla_policies"][2]
        policy["targets"].reverse()  # the file's order is not the database's
        policy["targets"][0]["resolution"] = "1m"  # priority 4's

    result = config_import(text=edited(export_text(), change), user=configured, dry_run=True)

    assert [str(p) for p in result.problems] == [
        "sla_policies[2].targets[0].resolution: Resolution cannot be due before the first response."
    ]


def test_the_severity_matrix_is_applied_through_the_admins_cells(configured, tmp_path):
    def change(document):
        document["severity_matrices"][0]["grid"]["4,4"] = 3

    out, _err = import_file(tmp_path, edited(export_text(), change))

    assert "severity_matrices: changed Default (ITIL)\n    grid: " in out
    assert SeverityMatrix.objects.get().grid["4,4"] == 3


def test_a_priority_the_matrix_cannot_hold_is_refused(configured, tmp_path):
    def change(document):
        document["severity_matrices"][0]["grid"]["1,1"] = 9

    result = config_import(text=edited(export_text(), change), user=configured, dry_run=False)

    # The admin's two complaints: the cell's choice, and the grid it leaves incomplete.
    assert [p.path for p in result.problems] == [
        "severity_matrices[0].grid",
        "severity_matrices[0]",
    ]
    assert "9 is not one of the available choices" in result.problems[0].message
    assert SeverityMatrix.objects.get().grid["1,1"] != 9


def test_an_item_twice_and_an_unknown_section_are_refused(configured):
    def change(document):
        document["teams"].append(dict(document["teams"][0]))
        document["escalation_policies"] = []

    result = config_import(text=edited(export_text(), change), user=configured, dry_run=True)

    messages = [str(p) for p in result.problems]
    assert messages[0].startswith("escalation_policies: unknown section")
    assert "teams[3]: the same name as teams[0]" in messages
