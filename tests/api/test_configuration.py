"""Organisation and configuration over the API: agents read the organisation, admins write
everything through the admin's own forms (the same validation and messages), secrets are
never returned, and the caller's notifications and preferences."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from escalation.models import EscalationRule
from notifications.models import ChannelPreference, Delivery, Notification, WebhookEndpoint
from sla.models import BusinessCalendar, SeverityMatrix, SLAPolicy
from tests.api.conftest import assert_refused_without_valid_credentials, client_for
from tests.escalation.test_services import Chain
from tests.factories import CustomerFactory, SupportLevelFactory, TeamFactory, UserFactory
from tickets import services
from tickets.admin import SupportLevelAdminForm, TeamAdminForm
from tickets.models import SupportLevel, Team

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
CONF = "/api/v1/configuration/"


@pytest.fixture
def admin_api(admin_user):
    return client_for(admin_user)


# --- Organisation -----------------------------------------------------------------------------


def test_agents_read_the_organisation(api, team_a, agent):
    CustomerFactory(name="Acme")
    for resource in ("levels", "teams", "customers", "contacts", "services", "users"):
        response = api.get(f"{V1}{resource}/")
        assert response.status_code == 200, (resource, response.content)
    teams = api.get(f"{V1}teams/").json()["results"]
    assert [t["name"] for t in teams] == ["Team A"]
    assert teams[0]["members"] == [agent.pk]
    assert api.get(f"{V1}teams/{team_a.pk}/").json()["name"] == "Team A"
    assert [c["name"] for c in api.get(f"{V1}customers/").json()["results"]] == ["Acme"]


def test_users_show_emails_to_admins_only(api, team_a, agent, admin_api):
    agent.email = "agent@example.com"
    agent.save()
    mine = next(u for u in api.get(f"{V1}users/").json()["results"] if u["id"] == agent.pk)
    assert "email" not in mine and mine["teams"] == [team_a.pk]
    seen = next(u for u in admin_api.get(f"{V1}users/").json()["results"] if u["id"] == agent.pk)
    assert seen["email"] == "agent@example.com"


def test_a_user_in_no_team_reads_nothing(db):
    loner = UserFactory(username="loner")
    client = client_for(loner)
    assert client.get(f"{V1}teams/").status_code == 403
    assert client.get(f"{V1}users/").status_code == 403
    assert_refused_without_valid_credentials(loner, "get", f"{V1}levels/")


def test_agents_cannot_write_the_organisation(api, team_a):
    response = api.post(f"{V1}customers/", {"name": "Evil"}, format="json")
    assert response.status_code == 403
    assert api.patch(f"{V1}teams/{team_a.pk}/", {"name": "x"}, format="json").status_code == 403
    assert api.delete(f"{V1}teams/{team_a.pk}/").status_code == 403


def test_admins_write_the_organisation_through_the_admin_form(admin_api, admin_user):
    level = SupportLevelFactory(rank=1)
    response = admin_api.post(
        f"{V1}customers/",
        {"name": "Acme", "tier": "premium", "kind": "organisation"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Acme"
    entry = LogEntry.objects.get()
    assert entry.user == admin_user and entry.object_repr == "Acme"
    team = admin_api.post(
        f"{V1}teams/", {"name": "Desk", "kind": "tier", "level": level.pk}, format="json"
    )
    assert team.status_code == 201, team.content
    desk = Team.objects.get(name="Desk")
    # A team cannot escalate to itself: the admin form's message, word for word.
    refused = admin_api.patch(f"{V1}teams/{desk.pk}/", {"escalates_to": desk.pk}, format="json")
    assert refused.status_code == 400
    form = TeamAdminForm(
        data={
            "name": "Desk",
            "kind": "tier",
            "level": level.pk,
            "escalates_to": desk.pk,
            "is_active": True,
        },
        instance=desk,
    )
    assert not form.is_valid()
    assert refused.json()["errors"]["escalates_to"] == form.errors["escalates_to"]
    desk.refresh_from_db()
    assert desk.escalates_to is None


def test_level_rank_checks_are_the_admins(admin_api):
    low, high = SupportLevelFactory(rank=1), SupportLevelFactory(rank=2)
    upper = TeamFactory(name="Upper", level=high)
    TeamFactory(name="Lower", level=low, escalates_to=upper)
    response = admin_api.patch(f"{V1}levels/{high.pk}/", {"rank": 0}, format="json")
    assert response.status_code == 400
    form = SupportLevelAdminForm(data={"rank": 0, "name": high.name}, instance=high)
    assert not form.is_valid()
    assert response.json()["errors"]["rank"] == form.errors["rank"]
    assert SupportLevel.objects.get(pk=high.pk).rank == 2


def test_patch_keeps_what_is_not_sent_and_refuses_unknown_fields(admin_api):
    customer = CustomerFactory(name="Acme", phone="123")
    response = admin_api.patch(f"{V1}customers/{customer.pk}/", {"tier": "premium"}, format="json")
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.tier, customer.phone, customer.name) == ("premium", "123", "Acme")
    unknown = admin_api.patch(f"{V1}customers/{customer.pk}/", {"colour": "red"}, format="json")
    assert unknown.status_code == 400 and "colour" in unknown.json()["errors"]
    nul = admin_api.patch(f"{V1}customers/{customer.pk}/", {"name": "a\x00"}, format="json")
    assert nul.status_code == 400
    assert admin_api.patch(f"{V1}customers/{customer.pk}/", [1], format="json").status_code == 400


def test_deleting_what_is_in_use_is_a_409(admin_api, team_a):
    response = admin_api.delete(f"{V1}levels/{team_a.level_id}/")
    assert response.status_code == 409
    assert SupportLevel.objects.filter(pk=team_a.level_id).exists()
    spare = CustomerFactory(name="Spare")
    assert admin_api.delete(f"{V1}customers/{spare.pk}/").status_code == 204


# --- Configuration ----------------------------------------------------------------------------


def test_configuration_is_for_administrators(api, team_a):
    for resource in (
        "calendars",
        "sla-policies",
        "tier-targets",
        "severity-matrices",
        "escalation-rules",
        "webhook-endpoints",
        "message-templates",
    ):
        assert api.get(f"{CONF}{resource}/").status_code == 403, resource
    assert api.post(f"{CONF}calendars/", {"name": "x"}, format="json").status_code == 403


def test_a_calendar_with_its_opening_hours(admin_api):
    body = {
        "name": "Berlin office",
        "timezone": "Europe/Berlin",
        "opening_hours": [
            {"weekday": 0, "start": "08:00", "end": "18:00"},
            {"weekday": 1, "start": "08:00", "end": "18:00"},
        ],
    }
    response = admin_api.post(f"{CONF}calendars/", body, format="json")
    assert response.status_code == 201, response.content
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert calendar.opening_hours.count() == 2
    hours = response.json()["opening_hours"]
    monday = next(h for h in hours if h["weekday"] == 0)
    # Replace the list: Monday changes, Tuesday goes, Friday comes.
    response = admin_api.patch(
        f"{CONF}calendars/{calendar.pk}/",
        {
            "opening_hours": [
                {"id": monday["id"], "weekday": 0, "start": "09:00", "end": "17:00"},
                {"weekday": 4, "start": "08:00", "end": "12:00"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert sorted((h.weekday, h.start.hour) for h in calendar.opening_hours.all()) == [
        (0, 9),
        (4, 8),
    ]
    bad = admin_api.post(
        f"{CONF}calendars/", {"name": "Bad", "timezone": "Mars/Olympus"}, format="json"
    )
    assert bad.status_code == 400 and "timezone" in bad.json()["errors"]


def test_an_sla_policy_needs_targets_for_its_priorities(admin_api):
    calendar = BusinessCalendar.objects.create(name="Round the clock", always_open=True)
    body = {
        "name": "Gold",
        "calendar": calendar.pk,
        "priority_min": 1,
        "priority_max": 2,
        "is_active": True,
        "order": 10,
    }
    refused = admin_api.post(f"{CONF}sla-policies/", body, format="json")
    assert refused.status_code == 400
    assert "missing" in " ".join(refused.json()["errors"]["targets"])
    assert not SLAPolicy.objects.filter(name="Gold").exists()
    targets = [
        {"priority": 1, "first_response": "15 min", "resolution": "4 h"},
        {"priority": 2, "first_response": "1 h", "resolution": "1 d"},
    ]
    response = admin_api.post(f"{CONF}sla-policies/", {**body, "targets": targets}, format="json")
    assert response.status_code == 201, response.content
    policy = SLAPolicy.objects.get(name="Gold")
    assert {t.priority: t.resolution for t in policy.targets.all()} == {
        1: dt.timedelta(hours=4),
        2: dt.timedelta(days=1),
    }
    assert [t["priority"] for t in response.json()["targets"]] == [1, 2]
    bad = admin_api.patch(
        f"{CONF}sla-policies/{policy.pk}/",
        {
            "targets": [
                {**targets[0], "id": policy.targets.get(priority=1).pk, "resolution": "soon"},
                {**targets[1], "id": policy.targets.get(priority=2).pk},
            ]
        },
        format="json",
    )
    assert bad.status_code == 400
    assert "targets[0].resolution" in bad.json()["errors"]
    typo = admin_api.patch(
        f"{CONF}sla-policies/{policy.pk}/",
        {"targets": [{**targets[0], "resolutoin": "1 h"}]},
        format="json",
    )
    assert typo.status_code == 400 and "targets[0].resolutoin" in typo.json()["errors"]


def test_the_severity_matrix_is_written_by_its_cells(admin_api):
    matrix = SeverityMatrix.objects.first() or SeverityMatrix.objects.create(
        name="Default",
        grid={f"{i},{u}": min(4, max(1, (i + u) // 2)) for i in range(1, 5) for u in range(1, 5)},
    )
    response = admin_api.patch(
        f"{CONF}severity-matrices/{matrix.pk}/", {"cell_4_4": 3}, format="json"
    )
    assert response.status_code == 200, response.content
    matrix.refresh_from_db()
    assert matrix.grid["4,4"] == 3
    assert response.json()["grid"]["4,4"] == 3


def test_an_escalation_rule_and_its_preview(admin_api):
    chain = Chain()
    ticket = services.ticket_create(
        actor=chain.agents[0],
        data=services.NewTicket(
            subject="Down", description="", team=chain.teams[0], impact=1, urgency=1
        ),
    )
    refused = admin_api.post(
        f"{CONF}escalation-rules/", {"name": "Quiet", "trigger": "no_progress"}, format="json"
    )
    assert refused.status_code == 400 and "threshold" in refused.json()["errors"]
    response = admin_api.post(
        f"{CONF}escalation-rules/",
        {
            "name": "Sev 1 now",
            "trigger": "severity",
            "priority_at_least": 1,
            "escalate": "hierarchical",
            "order": 1,
            "is_active": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    rule = EscalationRule.objects.get(name="Sev 1 now")
    preview = admin_api.get(f"{CONF}escalation-rules/{rule.pk}/preview/")
    assert preview.status_code == 200
    body = preview.json()
    assert body["active"] is True
    # Saving the rule fired nothing (the sweep does): the engine says it would fire now.
    assert body["tickets"] == [ticket.reference]
    at = (timezone.now() + dt.timedelta(days=1)).isoformat()
    assert (
        admin_api.get(f"{CONF}escalation-rules/{rule.pk}/preview/", {"at": at}).status_code == 200
    )
    assert (
        admin_api.get(f"{CONF}escalation-rules/{rule.pk}/preview/", {"at": "tomorrow"}).status_code
        == 400
    )


def test_webhook_secrets_are_never_returned(admin_api):
    response = admin_api.post(
        f"{CONF}webhook-endpoints/",
        {
            "url": "https://hooks.example.com/x",
            "event_types": ["escalation.raised"],
            "is_active": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "secret" not in response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    listed = admin_api.get(f"{CONF}webhook-endpoints/").json()["results"]
    assert all("secret" not in e for e in listed)
    Delivery.objects.create(
        channel="webhook",
        kind="escalation.raised",
        endpoint=endpoint,
        event_id="evt_1",
        payload={"a": 1},
    )
    deliveries = admin_api.get(f"{CONF}webhook-endpoints/{endpoint.pk}/deliveries/").json()
    assert [d["event_id"] for d in deliveries["results"]] == ["evt_1"]
    private = admin_api.post(
        f"{CONF}webhook-endpoints/",
        {"url": "http://127.0.0.1/x", "is_active": True},
        format="json",
    )
    assert private.status_code == 400 and "url" in private.json()["errors"]


# --- The caller's notifications ---------------------------------------------------------------


def test_my_notifications_and_marking_them_read(api, agent, other_agent, team_a):
    mine = Notification.objects.create(user=agent, kind="sla_warning", dedupe_key="a")
    Notification.objects.create(user=agent, kind="sla_breach", dedupe_key="b")
    theirs = Notification.objects.create(user=other_agent, kind="sla_breach", dedupe_key="c")
    body = api.get(f"{V1}me/notifications/", {"unread": "true"}).json()
    assert {n["id"] for n in body["results"]} == {mine.pk, mine.pk + 1}
    response = api.post(f"{V1}me/notifications/{mine.pk}/read/")
    assert response.json() == {"marked": 1}
    assert api.post(f"{V1}me/notifications/{mine.pk}/read/").json() == {"marked": 0}
    assert api.post(f"{V1}me/notifications/{theirs.pk}/read/").status_code == 404
    assert api.post(f"{V1}me/notifications/read/").json() == {"marked": 1}
    assert not Notification.objects.filter(user=agent, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_my_notification_preferences(api, agent, team_a):
    body = api.get(f"{V1}me/notification-preferences/").json()
    assert body["channels"]["sla_breach"].keys() == {"in_app", "email"}
    response = api.patch(
        f"{V1}me/notification-preferences/",
        {"language": "de", "channels": {"sla_breach": {"email": False}}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["language"] == "de"
    assert ChannelPreference.objects.get(preference__user=agent, kind="sla_breach").email is False
    bad = api.patch(
        f"{V1}me/notification-preferences/", {"timezone": "Nowhere/Else"}, format="json"
    )
    assert bad.status_code == 400 and "timezone" in bad.json()["errors"]
    unknown = api.patch(
        f"{V1}me/notification-preferences/",
        {"channels": {"gossip": {"email": True}}},
        format="json",
    )
    assert unknown.status_code == 400


def test_admin_only_reads_are_refused_to_an_admin_without_a_valid_token(admin_user):
    assert_refused_without_valid_credentials(admin_user, "get", f"{CONF}calendars/")


@pytest.mark.parametrize("count", [3, 30])
def test_lists_take_a_flat_number_of_queries(
    admin_api, agent, count, django_assert_max_num_queries
):
    level = SupportLevelFactory(rank=1)
    calendar = BusinessCalendar.objects.create(name="Flat", always_open=True)
    for i in range(count):
        TeamFactory(name=f"T{i}", level=level, members=[agent, UserFactory(username=f"u{i}")])
        CustomerFactory(name=f"C{i}")
        policy = SLAPolicy.objects.create(name=f"P{i}", calendar=calendar)
        policy.targets.create(
            priority=1, first_response=dt.timedelta(hours=1), resolution=dt.timedelta(hours=4)
        )
    for resource in ("teams", "customers", "users", "configuration/sla-policies"):
        with django_assert_max_num_queries(10):
            response = admin_api.get(f"{V1}{resource}/")
        assert response.status_code == 200
        assert len(response.json()["results"]) >= count


def test_tier_targets_and_message_templates(admin_api, admin_user):
    level = SupportLevelFactory(rank=7)  # the data migrations' levels have targets already
    response = admin_api.post(
        f"{CONF}tier-targets/", {"level": level.pk, "acknowledge_within": "30 min"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["acknowledge_within"] == "00:30:00"
    twice = admin_api.post(
        f"{CONF}tier-targets/", {"level": level.pk, "acknowledge_within": "1 h"}, format="json"
    )
    assert twice.status_code == 400 and "level" in twice.json()["errors"]
    template = admin_api.post(
        f"{CONF}message-templates/",
        {
            "name": "First notice",
            "kind": "initial_notice",
            "language": "en",
            "body": "We are working on {reference}.",
        },
        format="json",
    )
    assert template.status_code == 201, template.content
    assert LogEntry.objects.filter(user=admin_user).count() == 2
