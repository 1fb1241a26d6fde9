"""A preventive measure tracked as a follow-up task: added with an owner and a due date (the
owner told through the outbox), listed until done with the overdue highlighted, the owner
reminded once when it falls due, done once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from lessons import services as lessons
from lessons.models import Measure
from notifications.models import Delivery, Notification
from tests.lessons.test_pages import LIST, report
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db
K = Notification.Kind


def track(org, written, title, owner, due_on, bump=0) -> Measure:
    """A measure added by the admin to `written`, `bump` measures after the first."""
    return lessons.measure_add(
        report=written,
        actor=org.admin,
        title=title,
        owner=owner,
        due_on=due_on,
        expected_version=written.version + bump,
    )


def add(client, ticket, owner, due, version, title="Monitor certificate expiry"):
    return client.post(
        f"{LIST}{ticket.reference}/measures/",
        {"title": title, "owner": owner.pk, "due_on": due.isoformat(), "version": version},
    )


def test_adding_a_measure_tells_its_owner_and_acts_once(client, org, climbed):
    written = report(org, climbed)
    due = timezone.localdate() + dt.timedelta(days=7)
    client.force_login(org.agent)
    response = add(client, climbed, org.im_lead, due, written.version)
    assert response.status_code == 302
    measure = Measure.objects.get()
    assert (measure.owner, measure.due_on, measure.created_by) == (org.im_lead, due, org.agent)
    notice = Notification.objects.get(kind=K.MEASURE_ASSIGNED)
    assert notice.user == org.im_lead
    assert notice.text.startswith(f"Preventive measure from {climbed.reference} assigned to you")
    assert notice.text.endswith(": Monitor certificate expiry")
    assert Delivery.objects.filter(
        kind=K.MEASURE_ASSIGNED, user=org.im_lead, channel=Delivery.Channel.EMAIL
    ).exists()
    event = TicketEvent.objects.filter(ticket=climbed).latest("pk")
    assert event.payload == {
        "closing_report": "measure_added",
        "measure": "Monitor certificate expiry",
    }

    # The same form again: refused, one measure.
    again = add(client, climbed, org.im_lead, due, written.version)
    assert again.status_code == 409
    assert Measure.objects.count() == 1


def test_bad_measures_are_form_errors(client, org, climbed):
    written = report(org, climbed)
    client.force_login(org.agent)
    past = timezone.localdate() - dt.timedelta(days=1)
    response = add(client, climbed, org.im_lead, past, written.version)
    assert response.status_code == 422
    assert "The due date lies in the past." in response.content.decode()
    response = client.post(
        f"{LIST}{climbed.reference}/measures/",
        {"title": "", "owner": 999999, "due_on": "soon", "version": written.version},
    )
    assert response.status_code == 422
    assert not Measure.objects.exists()


def test_the_open_list_highlights_the_overdue_and_forgets_the_done(client, org, climbed):
    written = report(org, climbed)
    today = timezone.localdate()
    later = track(org, written, "Add a runbook", org.agent, today + dt.timedelta(days=10))
    late = track(
        org, written, "Renew the certificates", org.agent, today + dt.timedelta(days=1), bump=1
    )
    Measure.objects.filter(pk=late.pk).update(due_on=today - dt.timedelta(days=2))
    client.force_login(org.agent)
    text = client.get(f"{LIST}measures/").content.decode()
    assert text.index("Renew the certificates") < text.index("Add a runbook")
    assert text.count("Overdue") == 1 and "lessons-overdue" in text
    german = client.get(f"{LIST}measures/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Noch nicht erledigte vorbeugende Maßnahmen" in german and "Überfällig" in german

    response = client.post(f"{LIST}measures/{late.pk}/done/", {"next": "measures"})
    assert response.status_code == 302 and response["Location"] == f"{LIST}measures/"
    late.refresh_from_db()
    assert late.done_at is not None and late.done_by == org.agent
    # A double click: done once, one timeline entry.
    client.post(f"{LIST}measures/{late.pk}/done/")
    assert (
        TicketEvent.objects.filter(ticket=climbed, payload__closing_report="measure_done").count()
        == 1
    )
    listed = client.get(f"{LIST}measures/").context["measures"]
    assert [m.title for m in listed] == ["Add a runbook"]
    assert later.done_at is None


def test_others_cannot_see_or_complete_a_measure(client, org, climbed):
    written = report(org, climbed)
    measure = track(org, written, "Runbook", org.agent, timezone.localdate())
    client.force_login(org.outsider)
    assert "Runbook" not in client.get(f"{LIST}measures/").content.decode()
    assert client.post(f"{LIST}measures/{measure.pk}/done/").status_code == 404
    measure.refresh_from_db()
    assert measure.done_at is None


def test_the_owner_is_reminded_once_per_due_date(org, climbed):
    written = report(org, climbed)
    today = timezone.localdate()
    due = track(org, written, "Rotate keys", org.agent, today)
    track(org, written, "Not yet", org.agent, today + dt.timedelta(days=3), bump=1)
    assert lessons.remind_due_measures() == 1
    assert lessons.remind_due_measures() == 0  # a second sweep: nobody told twice
    notice = Notification.objects.get(kind=K.MEASURE_DUE)
    assert notice.user == org.agent and notice.text.endswith(": Rotate keys")

    # A new due date is reminded of again when it comes; a done measure never.
    Measure.objects.filter(pk=due.pk).update(due_on=today - dt.timedelta(days=1))
    assert lessons.remind_due_measures() == 1
    lessons.measure_done(measure=due, actor=org.agent)
    Measure.objects.filter(pk=due.pk).update(due_on=today - dt.timedelta(days=2))
    assert lessons.remind_due_measures() == 0


def test_the_admin_lists_categories_reports_and_measures(client, org, climbed):
    written = report(org, climbed)
    track(org, written, "Runbook", org.agent, timezone.localdate())
    client.force_login(org.admin)
    for path in ("causecategory", "closingreport", "measure"):
        response = client.get(f"/admin/lessons/{path}/")
        assert response.status_code == 200
    assert "Software defect" in client.get("/admin/lessons/causecategory/").content.decode()
    assert "Runbook" in client.get("/admin/lessons/measure/").content.decode()
    page = client.get(f"/admin/lessons/closingreport/{written.pk}/change/")
    assert "Pool too small" in page.content.decode()


def test_the_owners_email_is_worded_in_their_language(org, climbed):
    from notifications import email
    from notifications.models import Preference

    written = report(org, climbed)
    due = dt.date(2030, 3, 4)
    track(org, written, "Zertifikate überwachen", org.agent, due)
    delivery = Delivery.objects.get(kind=K.MEASURE_ASSIGNED, channel=Delivery.Channel.EMAIL)
    _subject, text, _html = email.render(
        delivery, org.agent, Preference(user=org.agent, language="de")
    )
    assert (
        f"Vorbeugende Maßnahme aus {climbed.reference} ist Ihnen zugewiesen, fällig am 04.03.2030"
        in text
    )
    assert "Zertifikate überwachen" in text


def test_a_report_changed_in_the_admin_goes_through_the_service(client, org, climbed):
    written = report(org, climbed)
    client.force_login(org.admin)
    response = client.post(
        f"/admin/lessons/closingreport/{written.pk}/change/",
        {
            "category": org.defect.pk,
            "cause": "Pool too small for the sale",
            "solution": "Raised it",
            "impact": "",
            "lessons_learned": "Watch",
            "preventive_measures": "",
            "measures-TOTAL_FORMS": "0",
            "measures-INITIAL_FORMS": "0",
            "measures-MIN_NUM_FORMS": "0",
            "measures-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    written.refresh_from_db()
    assert (written.cause, written.version) == ("Pool too small for the sale", 2)
    event = TicketEvent.objects.filter(ticket=climbed).latest("pk")
    assert event.payload == {"closing_report": "updated", "fields": ["cause"]}
