"""The rule lab over the API: the configuration document (YAML and JSON), its import with a
dry run, versions and rollback, drafts, backtests, publishing — admin-only, through the same
services as the admin and `manage.py config`."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from django.contrib.auth.models import Permission

from api.idempotency import REPLAYED_HEADER
from lab import backtest, versions
from lab.config import dump, export_configuration
from lab.models import BacktestRun, ConfigVersion, Draft
from sla.models import SLATarget
from tests.api.conftest import client_for
from tests.factories import AdminFactory, UserFactory
from tests.lab.test_backtest import NOW
from tests.lab.test_backtest import setup as backtest_setup  # noqa: F401 - a fixture
from tests.lab.test_versions import POLICY, with_first_response

pytestmark = pytest.mark.django_db

BASE = "/api/v1/configuration"


@pytest.fixture
def root():
    return AdminFactory(username="root")


@pytest.fixture
def api(root):
    return client_for(root)


def viewer():
    """Staff who may view the lab's records but change nothing."""
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="lab", codename__startswith="view_")
    )
    return user


def first_response(priority: int) -> dt.timedelta:
    return SLATarget.objects.get(policy__name=POLICY, priority=priority).first_response


def faster() -> str:
    return with_first_response(versions.live_document(), "1h", "30m")


# -- The document -----------------------------------------------------------------------------


def test_the_document_is_the_exports_yaml_or_the_same_as_json(api):
    response = api.get(f"{BASE}/document/", HTTP_ACCEPT="application/yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert response.content.decode() == dump(export_configuration())
    as_json = api.get(f"{BASE}/document/")
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json() == yaml.safe_load(response.content)
    assert "Standard office hours" in {p["name"] for p in as_json.json()["sla_policies"]}


def test_the_format_is_also_chosen_by_parameter(api):
    assert api.get(f"{BASE}/document/?format=yaml")["Content-Type"].startswith("application/yaml")
    unknown = api.get(f"{BASE}/document/?format=xml")
    assert unknown.status_code == 406
    assert unknown["Content-Type"] == "application/problem+json"


def test_the_document_is_for_administrators(agent):
    response = client_for(agent).get(f"{BASE}/document/", HTTP_ACCEPT="application/yaml")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "Only administrators" in response.json()["detail"]
    assert client_for(viewer()).get(f"{BASE}/document/").status_code == 200


# -- Import -----------------------------------------------------------------------------------


def test_a_dry_run_lists_the_changes_and_writes_nothing(api):
    response = api.post(f"{BASE}/import/", {"document": faster(), "dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["applied"] is False and body["version"] is None
    assert body["changes"] == [
        {
            "section": "sla_policies",
            "key": POLICY,
            "action": "changed",
            "fields": [
                {"field": "targets[priority=2].first_response", "before": "1h", "after": "30m"}
            ],
        }
    ]
    assert first_response(2) == dt.timedelta(hours=1)
    assert not ConfigVersion.objects.exists()


def test_a_refused_document_names_each_problem_with_its_path_and_line(api):
    text = with_first_response(versions.live_document(), "1h", "soon")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "first_response: soon" in row)
    response = api.post(f"{BASE}/import/", {"document": text, "dry_run": True}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    [(path, [message])] = body["errors"].items()
    assert path.startswith("sla_policies[") and path.endswith(".first_response")
    assert message == f"Line {line}: not a duration ('soon'; write e.g. 4h, 30m, 1d2h)"
    assert body["problems"] == [
        {"path": path, "line": line, "message": "not a duration ('soon'; write e.g. 4h, 30m, 1d2h)"}
    ]
    # Without the dry run: the same refusal, and nothing written.
    again = api.post(f"{BASE}/import/", {"document": text}, format="json")
    assert again.status_code == 400
    assert again.json()["errors"] == body["errors"]
    assert not ConfigVersion.objects.exists()


def test_the_admins_validation_refuses_a_chain_that_does_not_go_up(api):
    document = export_configuration()
    document["teams"] = [
        {"name": "A", "kind": "tier", "level": 1, "escalates_to": "B"},
        {"name": "B", "kind": "tier", "level": 1, "escalates_to": "A"},
    ]
    response = api.post(f"{BASE}/import/", {"document": document, "dry_run": True}, format="json")
    assert response.status_code == 400
    messages = [m for ms in response.json()["errors"].values() for m in ms]
    assert "“A” is at level 1; a team escalates to a higher level than its own (1)." in messages
    assert all(p["line"] is None for p in response.json()["problems"])  # sent as an object


def test_an_import_is_a_new_version_with_who_and_why_and_a_resubmit_changes_nothing(api, root):
    body = {"document": faster(), "reason": "Customers ask for it"}
    response = api.post(f"{BASE}/import/", body, format="json", HTTP_IDEMPOTENCY_KEY="imp-1")
    assert response.status_code == 201, response.content
    assert response.json()["version"]["number"] == 2
    assert response.json()["version"]["kind"] == "imported"
    baseline, imported = ConfigVersion.objects.order_by("number")
    assert baseline.kind == ConfigVersion.Kind.BASELINE
    assert (imported.created_by, imported.reason) == (root, "Customers ask for it")
    assert imported.document == versions.live_document()
    assert first_response(2) == dt.timedelta(minutes=30)
    replay = api.post(f"{BASE}/import/", body, format="json", HTTP_IDEMPOTENCY_KEY="imp-1")
    assert replay.headers.get(REPLAYED_HEADER) == "true"
    assert replay.json() == response.json()
    again = api.post(f"{BASE}/import/", body, format="json")
    assert again.status_code == 200
    assert again.json()["applied"] is False and again.json()["changes"] == []
    assert ConfigVersion.objects.count() == 2


def test_the_json_export_imports_as_an_object(api):
    document = api.get(f"{BASE}/document/").json()
    target = next(p for p in document["sla_policies"] if p["name"] == POLICY)
    next(t for t in target["targets"] if t["priority"] == 2)["first_response"] = "45m"
    response = api.post(f"{BASE}/import/", {"document": document}, format="json")
    assert response.status_code == 201, response.content
    assert first_response(2) == dt.timedelta(minutes=45)


def test_only_superusers_import(agent):
    staff = viewer()
    for user in (agent, staff):
        response = client_for(user).post(
            f"{BASE}/import/", {"document": faster(), "dry_run": True}, format="json"
        )
        assert response.status_code == 403
    assert first_response(2) == dt.timedelta(hours=1)


def test_bad_input_is_a_problem_not_a_500(api):
    for body in (
        {},
        {"document": 3},
        {"document": "- a list"},
        {"document": "a: [", "dry_run": True},
        {"document": {"teams": "x\u0000"}},
        {"document": faster(), "surprise": 1},
    ):
        response = api.post(f"{BASE}/import/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response["Content-Type"] == "application/problem+json"


# -- Versions and rollback --------------------------------------------------------------------


def test_versions_are_listed_newest_first_and_rolled_back(api, root):
    api.post(f"{BASE}/import/", {"document": faster()}, format="json")
    listed = api.get(f"{BASE}/versions/").json()["results"]
    assert [(v["number"], v["kind"]) for v in listed] == [(2, "imported"), (1, "baseline")]
    assert "document" not in listed[0]
    baseline = listed[1]
    detail = api.get(f"{BASE}/versions/{baseline['id']}/").json()
    assert detail["document"] == ConfigVersion.objects.get(number=1).document

    response = api.post(
        f"{BASE}/versions/{baseline['id']}/rollback/", {"reason": "Too fast"}, format="json"
    )
    assert response.status_code == 201, response.content
    version = response.json()["version"]
    assert (version["number"], version["kind"], version["restores"]) == (3, "rollback", 1)
    assert version["reason"] == "Too fast" and version["created_by"] == "root"
    assert first_response(2) == dt.timedelta(hours=1)

    again = api.post(f"{BASE}/versions/{baseline['id']}/rollback/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == "This version is already the live configuration."
    assert ConfigVersion.objects.count() == 3


def test_the_version_list_reads_a_flat_number_of_queries(api, root, django_assert_max_num_queries):
    for n in range(1, 4):
        ConfigVersion.objects.create(number=n, kind="published", document="", created_by=root)
    with django_assert_max_num_queries(6):
        assert len(api.get(f"{BASE}/versions/").json()["results"]) == 3
    for n in range(4, 30):
        ConfigVersion.objects.create(number=n, kind="published", document="", created_by=root)
    with django_assert_max_num_queries(6):
        assert len(api.get(f"{BASE}/versions/").json()["results"]) == 29


def test_a_viewer_reads_versions_but_does_not_roll_back(root):
    version = ConfigVersion.objects.create(number=1, kind="baseline", document="x: 1")
    client = client_for(viewer())
    assert client.get(f"{BASE}/versions/{version.pk}/").status_code == 200
    assert client.post(f"{BASE}/versions/{version.pk}/rollback/", {}).status_code == 403
    assert ConfigVersion.objects.count() == 1


# -- Drafts, publishing ------------------------------------------------------------------------


def test_a_new_draft_starts_as_the_live_configuration(api, root):
    response = api.post(f"{BASE}/drafts/", {"name": "Faster", "reason": "asked"}, format="json")
    assert response.status_code == 201, response.content
    draft = Draft.objects.get()
    assert (draft.name, draft.reason, draft.created_by) == ("Faster", "asked", root)
    # The admin's text field strips the final newline; the document is the same.
    assert response.json()["document"] == versions.live_document().rstrip("\n")
    assert response.json()["created_by"] == "root"


def test_a_drafts_document_is_checked_like_in_the_admin(api):
    text = with_first_response(versions.live_document(), "1h", "soon")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "first_response: soon" in row)
    response = api.post(f"{BASE}/drafts/", {"name": "Bad", "document": text}, format="json")
    assert response.status_code == 400
    [message] = response.json()["errors"]["document"]
    assert message.startswith(f"Line {line}: sla_policies[")
    assert message.endswith("first_response: not a duration ('soon'; write e.g. 4h, 30m, 1d2h)")
    assert not Draft.objects.exists()


def test_a_draft_is_changed_published_once_and_then_frozen(api, root):
    draft = versions.new_draft(name="Faster", reason="Customers ask", user=root)
    response = api.patch(f"{BASE}/drafts/{draft.pk}/", {"document": faster()}, format="json")
    assert response.status_code == 200, response.content
    assert first_response(2) == dt.timedelta(hours=1)  # a draft changes nothing live

    published = api.post(f"{BASE}/drafts/{draft.pk}/publish/", HTTP_IDEMPOTENCY_KEY="pub-1")
    assert published.status_code == 201, published.content
    version = published.json()["version"]
    assert (version["number"], version["kind"], version["reason"]) == (
        2,
        "published",
        "Customers ask",
    )
    assert first_response(2) == dt.timedelta(minutes=30)
    assert api.get(f"{BASE}/drafts/{draft.pk}/").json()["published_as"] == 2

    replay = api.post(f"{BASE}/drafts/{draft.pk}/publish/", HTTP_IDEMPOTENCY_KEY="pub-1")
    assert replay.status_code == 201 and replay.headers.get(REPLAYED_HEADER) == "true"
    again = api.post(f"{BASE}/drafts/{draft.pk}/publish/")
    assert again.status_code == 409
    assert again.json()["detail"] == "This draft has already been published."
    frozen = api.patch(f"{BASE}/drafts/{draft.pk}/", {"name": "Renamed"}, format="json")
    assert frozen.status_code == 409
    assert ConfigVersion.objects.count() == 2
    assert Draft.objects.get().name == "Faster"


def test_a_draft_refused_at_publishing_is_a_problem_with_lines(api, root):
    draft = versions.new_draft(name="Stale", reason="", user=root)
    # Written past the admin's check (straight into the row): publishing checks it again.
    Draft.objects.filter(pk=draft.pk).update(
        document=with_first_response(draft.document, "1h", "soon")
    )
    response = api.post(f"{BASE}/drafts/{draft.pk}/publish/")
    assert response.status_code == 400
    assert response.json()["problems"][0]["line"] is not None
    assert not ConfigVersion.objects.exists()


# -- Backtests --------------------------------------------------------------------------------


def test_a_backtest_starts_in_the_worker_and_reports_progress(
    api, root, django_capture_on_commit_callbacks, monkeypatch
):
    draft = versions.new_draft(name="Faster", reason="", user=root)
    queued = []
    monkeypatch.setattr("lab.tasks.run_backtest.delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}/drafts/{draft.pk}/backtests/", {"days": 30}, format="json")
    assert response.status_code == 202, response.content
    run = BacktestRun.objects.get()
    assert queued == [run.pk]
    assert response["Location"].endswith(f"{BASE}/backtests/{run.pk}/")
    assert (response.json()["status"], response.json()["days"]) == ("queued", 30)
    assert run.until - run.since == dt.timedelta(days=30)

    backtest.execute(run.pk)
    status = api.get(response["Location"]).json()
    assert (status["status"], status["percent"]) == ("done", 100)
    assert status["summary"]["differing"] == 0


def test_the_summary_names_where_the_courses_part(api, backtest_setup):  # noqa: F811
    root, _ticket, draft = backtest_setup
    run = backtest.execute(backtest.start(draft_id=draft.pk, days=30, user=root, now=NOW).pk)
    summary = api.get(f"{BASE}/backtests/{run.pk}/").json()["summary"]
    assert summary["differing"] == 1
    assert summary["live"]["escalations"] == summary["draft"]["escalations"] == 1
    [difference] = summary["differences"]
    assert difference["reference"] == "HD-2026-000812"
    assert difference["parting"] == (
        "Draft: warns about the first response target of HD-2026-000812 on Mon 16 Nov 10:22; "
        "live: warns about the first response target of HD-2026-000812 on Mon 16 Nov 10:45."
    )


def test_a_backtest_is_cancelled_until_it_has_finished(api, root):
    draft = versions.new_draft(name="Faster", reason="", user=root)
    run = backtest.start(draft_id=draft.pk, days=30, user=root)
    response = api.post(f"{BASE}/backtests/{run.pk}/cancel/")
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    assert backtest.execute(run.pk).status == BacktestRun.Status.CANCELLED
    finished = api.post(f"{BASE}/backtests/{run.pk}/cancel/")
    assert finished.status_code == 409


def test_a_failed_backtest_shows_the_drafts_problems(api, root):
    draft = versions.new_draft(name="Bad", reason="", user=root)
    Draft.objects.filter(pk=draft.pk).update(
        document=with_first_response(draft.document, "1h", "soon")
    )
    run = backtest.execute(backtest.start(draft_id=draft.pk, days=30, user=root).pk)
    body = api.get(f"{BASE}/backtests/{run.pk}/").json()
    assert body["status"] == "failed" and body["summary"] is None
    assert "not a duration" in body["problems"][0]["message"]


def test_drafts_and_backtests_are_for_administrators(agent, root):
    draft = versions.new_draft(name="Faster", reason="", user=root)
    run = backtest.start(draft_id=draft.pk, days=30, user=root)
    staff = client_for(viewer())
    assert staff.get(f"{BASE}/drafts/{draft.pk}/").status_code == 200
    assert staff.get(f"{BASE}/backtests/{run.pk}/").status_code == 200
    for client in (client_for(agent), staff):
        assert client.post(f"{BASE}/drafts/", {"name": "x"}, format="json").status_code == 403
        assert client.post(f"{BASE}/drafts/{draft.pk}/publish/").status_code == 403
        assert client.post(f"{BASE}/drafts/{draft.pk}/backtests/").status_code == 403
        assert client.post(f"{BASE}/backtests/{run.pk}/cancel/").status_code == 403
    assert client_for(agent).get(f"{BASE}/drafts/").status_code == 403
    assert BacktestRun.objects.count() == 1 and not ConfigVersion.objects.exists()
    assert not BacktestRun.objects.get().cancel_requested


def test_a_stale_draft_is_a_409_listing_what_went_live_since_until_confirmed(api, root):
    versions.record_version(kind=ConfigVersion.Kind.BASELINE, reason="", user=root)
    older = versions.new_draft(name="Slower", reason="", user=root)
    older.document = with_first_response(older.document, "1h", "2h")
    older.save()
    newer = versions.new_draft(name="Faster", reason="", user=root)
    newer.document = faster()
    newer.save()
    assert api.post(f"{BASE}/drafts/{newer.pk}/publish/").status_code == 201
    assert api.get(f"{BASE}/drafts/{older.pk}/").json()["based_on"] == 1

    stale = api.post(f"{BASE}/drafts/{older.pk}/publish/", {}, format="json")
    assert stale.status_code == 409
    assert stale.headers["Content-Type"].startswith("application/problem+json")
    body = stale.json()
    assert "made from an older configuration: 1 change(s) went live since" in body["detail"]
    assert body["based_on"] == 1
    assert body["changed_since"] == [
        {
            "section": "sla_policies",
            "key": POLICY,
            "action": "changed",
            "fields": [
                {"field": "targets[priority=2].first_response", "before": "1h", "after": "30m"}
            ],
        }
    ]
    assert first_response(2) == dt.timedelta(minutes=30)
    wrong = api.post(f"{BASE}/drafts/{older.pk}/publish/", {"confirm_live": 7}, format="json")
    assert wrong.status_code == 409
    confirmed = api.post(
        f"{BASE}/drafts/{older.pk}/publish/", {"confirm_live": body["live"]}, format="json"
    )
    assert confirmed.status_code == 201, confirmed.content
    assert confirmed.json()["version"]["number"] == 3
    assert first_response(2) == dt.timedelta(hours=2)
    typo = api.post(f"{BASE}/drafts/{newer.pk}/publish/", {"confirm": "x"}, format="json")
    assert typo.status_code == 400
