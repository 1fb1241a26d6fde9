"""Drafts beside the live configuration, publishing them as versions, rolling back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from lab import versions
from lab.models import ConfigVersion, Draft
from sla.models import SLATarget
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db

POLICY = "Standard office hours"


def standard_first_response(priority: int) -> dt.timedelta:
    return SLATarget.objects.get(policy__name=POLICY, priority=priority).first_response


def with_first_response(text: str, old: str, new: str) -> str:
    """The document with the first response of the standard policy's priority 2 changed."""
    head, tail = text.split(f"- name: {POLICY}\n", 1)
    row = f"  - priority: 2\n    first_response: {old}\n"
    assert row in tail
    return head + f"- name: {POLICY}\n" + tail.replace(row, row.replace(old, new), 1)


@pytest.fixture
def root():
    return AdminFactory(username="root")


def test_a_draft_starts_as_the_live_configuration_and_changes_nothing_live(root):
    draft = versions.new_draft(name="Faster", reason="customers ask", user=root)
    assert versions.check_document(draft.document, root) == ([], [])
    draft.document = with_first_response(draft.document, "1h", "30m")
    draft.save()
    changes, problems = versions.check_document(draft.document, root)
    assert problems == []
    assert [c.key for c in changes] == [POLICY]
    assert standard_first_response(2) == dt.timedelta(hours=1)
    assert not ConfigVersion.objects.exists()


def test_line_of_finds_the_problem_in_the_file():
    text = "teams:\n- name: A\n  level: 1\n- name: B\n  escalates_to: C\n"
    assert versions.line_of(text, "teams[1].escalates_to") == 5
    assert versions.line_of(text, "teams[0]") == 2
    assert versions.line_of(text, "teams[7].name") == 1  # the nearest thing written
    assert versions.line_of("a: [", "") is not None


def test_the_admin_shows_each_problem_with_its_line(client, root):
    client.force_login(root)
    text = with_first_response(versions.live_document(), "1h", "soon")
    response = client.post(
        reverse("admin:lab_draft_add"), {"name": "Broken", "reason": "", "document": text}
    )
    assert response.status_code == 200
    line = text.splitlines().index("    first_response: soon") + 1
    body = response.content.decode()
    assert f"Line {line}: sla_policies[" in body
    assert "not a duration" in body
    assert not Draft.objects.exists()


def test_the_add_page_offers_the_live_configuration(client, root):
    client.force_login(root)
    body = client.get(reverse("admin:lab_draft_add")).content.decode()
    assert "sla_policies:" in body
    assert f"name: {POLICY}" in body


def test_publish_makes_the_draft_live_as_a_version_once(client, root):
    draft = versions.new_draft(name="Faster", reason="customers ask", user=root)
    draft.document = with_first_response(draft.document, "1h", "30m")
    draft.save()
    client.force_login(root)
    url = reverse("admin:lab_draft_changelist")
    for _ in range(2):  # a double submit
        client.post(url, {"action": "publish", "_selected_action": [draft.pk]})
    assert standard_first_response(2) == dt.timedelta(minutes=30)
    baseline, published = ConfigVersion.objects.order_by("number")
    assert (baseline.number, baseline.kind) == (1, ConfigVersion.Kind.BASELINE)
    assert "first_response: 1h" in baseline.document.split(POLICY, 1)[1]
    assert (published.number, published.kind, published.reason) == (2, "published", "customers ask")
    assert published.created_by == root
    assert published.document == versions.live_document()
    draft.refresh_from_db()
    assert draft.published_as == published
    body = client.get(reverse("admin:lab_draft_change", args=[draft.pk])).content.decode()
    assert "v2" in body
    assert "None: the draft is the live configuration." in body


def test_a_refused_draft_is_not_published(root):
    draft = versions.new_draft(name="Cycle", reason="", user=root)
    draft.document = draft.document.replace("priority: 2\n", "priority: 9\n", 1)
    draft.save()
    outcome = versions.publish(draft.pk, user=root)
    assert outcome.version is None and outcome.problems
    assert not ConfigVersion.objects.exists()
    draft.refresh_from_db()
    assert draft.published_as is None


def test_rollback_restores_a_version_in_one_action(client, root):
    draft = versions.new_draft(name="Faster", reason="", user=root)
    draft.document = with_first_response(draft.document, "1h", "30m")
    draft.save()
    versions.publish(draft.pk, user=root)
    baseline = ConfigVersion.objects.get(number=1)
    client.force_login(root)
    url = reverse("admin:lab_configversion_changelist")
    for _ in range(2):  # a double submit: the second finds it live already
        response = client.post(
            url, {"action": "roll_back", "_selected_action": [baseline.pk]}, follow=True
        )
    assert "already the live configuration" in response.content.decode()
    assert standard_first_response(2) == dt.timedelta(hours=1)
    latest = ConfigVersion.objects.order_by("-number").first()
    assert (latest.number, latest.kind, latest.restores) == (3, "rollback", baseline)
    assert latest.document == baseline.document


def test_a_draft_page_shows_its_differences_from_the_live_configuration(client, root):
    draft = versions.new_draft(name="Faster", reason="", user=root)
    draft.document = with_first_response(draft.document, "1h", "30m")
    draft.save()
    client.force_login(AdminFactory(username="other"))
    body = client.get(reverse("admin:lab_draft_change", args=[draft.pk])).content.decode()
    assert f"sla_policies: changed {POLICY}" in body
    assert "targets[priority=2].first_response: &#x27;1h&#x27; -&gt; &#x27;30m&#x27;" in body
    assert standard_first_response(2) == dt.timedelta(hours=1)


def two_drafts(root):
    """Two drafts made from version 1: the second is published first (priority 2's first
    response 1h -> 30m), so the first one is stale (it would set 2h and undo the 30m)."""
    versions.record_version(kind=ConfigVersion.Kind.BASELINE, reason="", user=root)
    older = versions.new_draft(name="Slower", reason="", user=root)
    older.document = with_first_response(older.document, "1h", "2h")
    older.save()
    newer = versions.new_draft(name="Faster", reason="", user=root)
    newer.document = with_first_response(newer.document, "1h", "30m")
    newer.save()
    assert versions.publish(newer.pk, user=root).version.number == 2
    return older


def test_a_draft_made_from_an_older_configuration_is_published_only_when_confirmed(root):
    older = two_drafts(root)
    assert older.based_on.number == 1
    refused = versions.publish(older.pk, user=root)
    assert refused.conflict and refused.version is None
    assert "made from an older configuration: 1 change(s) went live since" in str(
        refused.problems[0]
    )
    [line, field] = [x for c in refused.changed_since for x in c.lines()]
    assert line == f"sla_policies: changed {POLICY}"
    assert field == "    targets[priority=2].first_response: '1h' -> '30m'"
    assert standard_first_response(2) == dt.timedelta(minutes=30)
    # A confirmation that names another live configuration is no confirmation.
    assert versions.publish(older.pk, user=root, confirm="0" * 16).version is None
    done = versions.publish(older.pk, user=root, confirm=refused.live)
    assert done.version.number == 3
    assert standard_first_response(2) == dt.timedelta(hours=2)


def test_the_admin_shows_what_went_live_since_and_publishes_after_confirming(client, root):
    older = two_drafts(root)
    client.force_login(root)
    url = reverse("admin:lab_draft_changelist")
    page = client.post(url, {"action": "publish", "_selected_action": [older.pk]})
    assert page.status_code == 200
    body = page.content.decode()
    assert "made from an older configuration: 1 change(s) went live since" in body
    assert "The draft was made from version 1." in body
    assert "targets[priority=2].first_response: &#x27;1h&#x27; -&gt; &#x27;30m&#x27;" in body
    assert ConfigVersion.objects.count() == 2
    assert standard_first_response(2) == dt.timedelta(minutes=30)
    live = versions.changed_since(older)[1]
    assert f'name="confirm_live" value="{live}"' in body
    confirmed = {"action": "publish", "_selected_action": [older.pk], "confirm_live": live}
    response = client.post(url, confirmed, follow=True)
    assert "The configuration is live as version 3" in response.content.decode()
    assert standard_first_response(2) == dt.timedelta(hours=2)
    client.post(url, confirmed)  # a double submit: published already
    assert ConfigVersion.objects.count() == 3
