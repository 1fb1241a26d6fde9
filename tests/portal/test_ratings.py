"""Satisfaction ratings: the signed link (tampering, expiry, replay, reopen), one rating per
resolution, the timeline entry, the escalated mark, the lead told of a low rating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from escalation import services as esc
from notifications.models import Notification
from portal import links, selectors, services
from portal.models import Rating
from tests.factories import AdminFactory, SupportLevelFactory, TeamFactory
from tests.portal.conftest import sign_in_as
from tickets import services as ticket_services
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def solved(orgs, desk):
    ticket = orgs["tickets"]["a1"]
    ticket_services.ticket_reply(ticket=ticket, actor=desk["agent"], body="Fixed it.")
    ticket_services.ticket_transition(ticket=ticket, actor=desk["agent"], name="resolve")
    ticket.refresh_from_db()
    return ticket


def test_the_link_rates_without_signing_in(client, solved, orgs):
    url = links.rating_url(solved)
    assert url.startswith("http://") and "/portal/rate/" in url
    path = url.split("127.0.0.1:8000", 1)[1] if "127.0.0.1:8000" in url else url
    page = client.get(path)
    assert page.status_code == 200
    assert solved.reference in page.content.decode()
    response = client.post(path, {"score": "4", "comment": "Quick, thanks."})
    assert response.status_code == 200
    assert "Thank you for your rating!" in response.content.decode()
    rating = Rating.objects.get()
    assert (rating.ticket, rating.resolution, rating.score) == (solved, 0, 4)
    assert rating.comment == "Quick, thanks."
    assert rating.contact == orgs["a1"]  # the requester, to whom the link was sent
    assert rating.escalated is False
    assert rating.level_rank == solved.level.rank
    event = solved.events.get(kind=TicketEvent.Kind.RATED)
    assert event.payload["score"] == 4
    assert event.payload["comment"] == "Quick, thanks."
    assert event.payload["resolution"] == 0
    assert event.payload["escalated"] is False
    assert event.actor is None


def test_a_second_rating_of_the_same_resolution_is_refused(client, solved):
    path = reverse("portal:rate", kwargs={"token": links.rating_token(solved)})
    client.post(path, {"score": "5"})
    replay = client.post(path, {"score": "1", "comment": "changed my mind"})
    assert replay.status_code == 409
    assert "rated already" in replay.content.decode()
    assert Rating.objects.get().score == 5
    assert solved.events.filter(kind=TicketEvent.Kind.RATED).count() == 1
    with pytest.raises(services.RatingRefused):
        services.rating_submit(ticket=solved, resolution=0, score=2)


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature
        lambda token: signing.dumps({"t": 1, "n": 0, "r": 0}, salt="another.purpose"),
        lambda token: signing.dumps({"t": "x", "n": 0}, salt=links.SALT),  # our salt, bad data
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_link_is_refused(client, solved, forge):
    token = forge(links.rating_token(solved))
    response = client.post(reverse("portal:rate", kwargs={"token": token}), {"score": "5"})
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert not Rating.objects.exists()


def test_a_link_for_another_ticket_cannot_be_made_by_editing(solved, orgs):
    """The payload is signed: pointing it at another ticket breaks the signature."""
    token = links.rating_token(solved)
    payload = signing.loads(token, salt=links.SALT)
    payload["t"] = orgs["tickets"]["b1"].pk
    _value, signature = token.rsplit(":", 1)
    forged = signing.dumps(payload, salt=links.SALT).rsplit(":", 1)[0] + ":" + signature
    with pytest.raises(links.InvalidRatingLink):
        links.rating_target(forged)


def test_an_expired_link_is_refused(client, solved, settings, monkeypatch):
    settings.PORTAL_RATING_LINK_DAYS = 2
    token = links.rating_token(solved)
    later = timezone.now().timestamp() + 3 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: later)
    response = client.get(reverse("portal:rate", kwargs={"token": token}))
    assert response.status_code == 404
    assert "expired" in response.content.decode()


def test_a_reopened_ticket_voids_the_old_link_and_asks_again(client, solved, orgs, desk):
    old = links.rating_token(solved)
    services.rating_submit(ticket=solved, resolution=0, score=3)
    ticket_services.ticket_add_customer_message(
        ticket=solved, body="It broke again.", contact=orgs["a1"]
    )
    solved.refresh_from_db()
    assert solved.status == Ticket.Status.OPEN and solved.reopen_count == 1
    response = client.get(reverse("portal:rate", kwargs={"token": old}))
    assert response.status_code == 404
    assert "reopened" in response.content.decode()
    ticket_services.ticket_transition(ticket=solved, actor=desk["agent"], name="resolve")
    solved.refresh_from_db()
    assert services.rating_open(solved)
    new = links.rating_token(solved)
    assert new != old
    response = client.post(reverse("portal:rate", kwargs={"token": new}), {"score": "5"})
    assert response.status_code == 200
    assert list(Rating.objects.order_by("resolution").values_list("resolution", "score")) == [
        (0, 3),
        (1, 5),
    ]


def test_the_ticket_page_asks_for_a_rating_once(client, solved, orgs):
    sign_in_as(client, orgs["a1"])
    page = client.get(reverse("portal:detail", args=[solved.reference])).content.decode()
    assert "How did we do?" in page
    token = links.rating_token(solved)
    assert reverse("portal:rate", kwargs={"token": token}) in page
    client.post(reverse("portal:rate", kwargs={"token": token}), {"score": "5"})
    page = client.get(reverse("portal:detail", args=[solved.reference])).content.decode()
    assert "How did we do?" not in page
    assert Rating.objects.get().contact == orgs["a1"]


def test_a_colleague_with_organisation_access_rates_as_themselves(client, solved, orgs):
    sign_in_as(client, orgs["a2"])
    client.post(
        reverse("portal:rate", kwargs={"token": links.rating_token(solved)}), {"score": "4"}
    )
    assert Rating.objects.get().contact == orgs["a2"]


def test_a_rating_is_asked_only_of_a_solved_ticket(orgs):
    ticket = orgs["tickets"]["a1"]
    assert not services.rating_open(ticket)
    with pytest.raises(ValueError):
        links.rating_token(ticket)
    with pytest.raises(services.RatingRefused):
        services.rating_submit(ticket=ticket, resolution=0, score=5)


def test_a_bad_score_is_a_form_error(client, solved):
    path = reverse("portal:rate", kwargs={"token": links.rating_token(solved)})
    response = client.post(path, {"score": "9"})
    assert response.status_code == 400
    assert not Rating.objects.exists()
    with pytest.raises(ticket_services.TicketError):
        services.rating_submit(ticket=solved, resolution=0, score=0)


def test_a_low_rating_tells_the_team_lead(solved, desk, django_capture_on_commit_callbacks):
    services.rating_submit(ticket=solved, resolution=0, score=2, comment="Slow.")
    notice = Notification.objects.get(kind=Notification.Kind.LOW_RATING)
    assert notice.user == desk["lead"]
    assert notice.ticket == solved
    assert notice.text == f"The customer rated {solved.reference} 2 of 5."


def test_a_good_rating_tells_nobody(solved):
    services.rating_submit(ticket=solved, resolution=0, score=3)
    assert not Notification.objects.filter(kind=Notification.Kind.LOW_RATING).exists()


def test_a_rating_of_an_escalated_ticket_is_marked(orgs, desk):
    level2 = SupportLevelFactory(rank=2)
    upper = TeamFactory(name="2nd Level", level=level2)
    desk["team"].escalates_to = upper
    desk["team"].save()
    ticket = orgs["tickets"]["a1"]
    esc.escalation_raise(
        ticket=ticket,
        actor=desk["lead"],
        kind="hierarchical",
        package=esc.Package(summary="Down", actions_taken="Restarted"),
    )
    ticket.refresh_from_db()
    ticket_services.ticket_transition(
        ticket=ticket, actor=AdminFactory(username="root"), name="resolve"
    )
    ticket.refresh_from_db()
    rating = services.rating_submit(ticket=ticket, resolution=0, score=5)
    assert rating.escalated is True
    assert rating.level_rank == 2
    assert ticket.events.get(kind=TicketEvent.Kind.RATED).payload["escalated"] is True


def test_csat_summary_for_reporting(solved, orgs, desk):
    services.rating_submit(ticket=solved, resolution=0, score=5)
    other = orgs["tickets"]["a3"]
    ticket_services.ticket_transition(ticket=other, actor=desk["agent"], name="resolve")
    other.refresh_from_db()
    services.rating_submit(ticket=other, resolution=0, score=2)
    now = timezone.now()
    summary = selectors.csat_summary(now - timedelta(days=1), now + timedelta(seconds=1))
    assert summary.count == 2
    assert summary.average == pytest.approx(3.5)
    assert summary.satisfied == 1
    assert summary.escalated_count == 0
    assert summary.escalated_average is None


def test_a_low_rating_is_a_soft_signal_when_the_ticket_comes_back(solved, orgs):
    """The engine reads it: a reopened ticket whose last solution was rated low carries the
    reason in its risk score (usable by `soft_signal` rules)."""
    services.rating_submit(ticket=solved, resolution=0, score=1, comment="Useless.")
    ticket_services.ticket_add_customer_message(
        ticket=solved, body="Same problem again.", contact=orgs["a1"]
    )
    solved.refresh_from_db()
    codes = {reason["code"]: reason for reason in solved.risk_reasons}
    assert codes["low_rating"]["count"] == 1
    assert codes["low_rating"]["points"] == 20
    assert solved.risk_score >= 20 + 15  # and the reopen itself


def test_a_good_rating_is_no_soft_signal(solved, orgs):
    services.rating_submit(ticket=solved, resolution=0, score=5)
    ticket_services.ticket_add_customer_message(
        ticket=solved, body="One more question.", contact=orgs["a1"]
    )
    solved.refresh_from_db()
    assert "low_rating" not in {reason["code"] for reason in solved.risk_reasons}


def test_the_low_rating_reason_in_words():
    from escalation.risk import RiskInputs, assess, describe

    score, reasons = assess(
        RiskInputs(
            follow_ups=0, customer_texts=(), reopen_count=0, vip=False, hand_offs=0, low_ratings=3
        )
    )
    assert score == 40  # capped
    assert describe(reasons[0]) == "3 earlier solutions were rated low by the customer"


def test_a_forwarded_link_rates_for_the_requester(client, solved, orgs):
    """A contact of another organisation who holds the link rates, but not in their name."""
    sign_in_as(client, orgs["b1"])
    path = reverse("portal:rate", kwargs={"token": links.rating_token(solved)})
    response = client.post(path, {"score": "3"})
    assert response.status_code == 200
    assert "Back to the ticket" not in response.content.decode()
    assert Rating.objects.get().contact == orgs["a1"]


def test_signing_in_returns_to_the_page_asked_for(
    client, orgs, deliveries_sent, django_capture_on_commit_callbacks
):
    import re

    from django.core import mail

    target = reverse("portal:detail", args=[orgs["tickets"]["a1"].reference])
    first = client.get(target)
    assert first["Location"] == f"{reverse('portal:sign_in')}?next={target.replace('/', '%2F')}"
    with django_capture_on_commit_callbacks(execute=True):
        step = client.post(first["Location"], {"email": "anna@acme.example", "next": target})
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    done = client.post(step["Location"], {"code": code, "next": target})
    assert done["Location"] == target
    # An address outside the portal is never a target.
    client.post(reverse("portal:sign_out"))
    with django_capture_on_commit_callbacks(execute=True):
        step = client.post(
            reverse("portal:sign_in"),
            {"email": "anna@acme.example", "next": "https://evil.example/"},
        )
    assert step["Location"] == reverse("portal:code")


def test_agents_read_the_rating_and_the_customers_actions_in_the_timeline(
    client, solved, orgs, desk
):
    services.rating_submit(ticket=solved, resolution=0, score=2, comment="Took too long.")
    services.portal_transition(
        contact=orgs["a1"], ticket=solved, action="solved", expected_version=solved.version
    )
    client.force_login(desk["agent"])
    body = client.get(solved.get_absolute_url()).content.decode()
    assert "The customer rated the solution 2 of 5." in body
    assert "Took too long." in body
    assert "Status changed from Resolved to Closed by the customer anna@acme.example." in body
    assert "Ticket opened by the customer anna@acme.example in the portal" in body


def test_the_leads_email_about_a_low_rating_renders(solved, desk):
    from notifications import email
    from notifications.models import Delivery, Preference

    services.rating_submit(ticket=solved, resolution=0, score=1)
    delivery = Delivery.objects.get(kind=Notification.Kind.LOW_RATING)
    assert delivery.user == desk["lead"]
    subject, text, html = email.render(delivery, desk["lead"], Preference.for_user(desk["lead"]))
    assert solved.reference in subject
    assert f"The customer rated {solved.reference} 1 of 5." in text
    assert solved.get_absolute_url() in html
