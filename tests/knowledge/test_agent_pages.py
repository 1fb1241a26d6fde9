"""The agents' knowledge pages under /knowledge/, the review list, and the reply box's link
picker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from knowledge import services
from knowledge.models import Article
from tests.factories import UserFactory
from tests.knowledge.articles import make_article
from tests.knowledge.articles import page_text as text
from tickets import services as ticket_services
from tickets.models import Contact, Customer

pytestmark = pytest.mark.django_db


def test_agents_only(client, kb):
    assert client.get("/knowledge/").status_code == 302  # to the login page
    client.force_login(UserFactory(username="outsider"))  # signed in, in no team
    for url in ["/knowledge/", "/knowledge/password-reset/", "/knowledge/picker/?q=pass"]:
        assert client.get(url).status_code == 403


def test_list_shows_public_and_internal_published_articles(agent_client, kb):
    page = text(agent_client.get("/knowledge/"))
    assert "Questions about your invoice" in page
    assert "Issuing a credit note for an invoice Internal" in page
    assert "Changing the address" not in page  # a draft
    assert "Knowledge base" in page


def test_list_search(agent_client, kb):
    page = text(agent_client.get("/knowledge/", {"q": "credit"}))
    assert "1 article for “credit”" in page
    assert "Issuing a credit note" in page


def test_article_page_shows_drafts_and_facts(agent_client, kb):
    response = agent_client.get("/knowledge/invoice-address-change/")
    assert response.status_code == 200
    page = text(response)
    assert "Changing the address on an invoice" in page
    assert "Draft" in page
    assert "Mark as reviewed today" in page  # the agent owns it
    german = text(agent_client.get("/knowledge/invoice-questions/?lang=de"))
    assert "Fragen zur Rechnung" in german
    assert "Public address: http://" in german


def test_review_list_and_marking_reviewed(agent_client, agent, kb):
    overdue = kb["password"]
    overdue.last_reviewed_on = timezone.localdate() - dt.timedelta(days=400)
    overdue.save()
    assert overdue.review_due_on == overdue.last_reviewed_on + dt.timedelta(days=180)
    page = text(agent_client.get("/knowledge/review/"))
    assert "Reset your password" in page
    assert "Questions about your invoice" not in page  # reviewed today, due in 180 days

    response = agent_client.post(
        "/knowledge/password-reset/reviewed/", {"next": "/knowledge/review/"}, follow=True
    )
    assert response.redirect_chain == [("/knowledge/review/", 302)]
    assert "None of your articles is due for review." in text(response)
    overdue.refresh_from_db()
    assert overdue.last_reviewed_on == timezone.localdate()


def test_only_the_owner_or_an_editor_marks_reviewed(client, kb, other_agent, team_b):
    client.force_login(other_agent)
    assert client.post("/knowledge/password-reset/reviewed/").status_code == 403
    page = text(client.get("/knowledge/review/?owner=all"))
    assert "Mark as reviewed" not in page
    other_agent.user_permissions.add(Permission.objects.get(codename="change_article"))
    client.force_login(other_agent)
    assert client.post("/knowledge/password-reset/reviewed/").status_code == 302


def test_mark_reviewed_ignores_a_foreign_next(agent_client, kb):
    response = agent_client.post(
        "/knowledge/password-reset/reviewed/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/knowledge/password-reset/"


def test_review_service_refuses_others(kb, other_agent):
    with pytest.raises(PermissionDenied):
        services.article_mark_reviewed(article=kb["password"], actor=other_agent)


# --- The reply box's picker ---------------------------------------------------------------------


def test_picker_offers_public_articles_with_their_public_address(agent_client, kb, settings):
    settings.SITE_URL = "https://help.example.com"
    response = agent_client.get("/knowledge/picker/", {"q": "invoice", "lang": "de"})
    page = text(response)
    assert "Fragen zur Rechnung" in page
    assert "Insert link" in page
    assert "Gutschrift" not in page and "credit note" not in page  # internal: no public page
    assert (
        'data-url="https://help.example.com/help/invoice-questions/?lang=de"'
        in response.content.decode()
    )


def test_picker_without_a_match_says_so(agent_client, kb):
    assert "No public article matches." in text(agent_client.get("/knowledge/picker/?q=zzzz"))
    assert text(agent_client.get("/knowledge/picker/?q=")) == ""


def test_ticket_reply_box_has_the_picker(agent_client, agent, team_a):
    ticket = ticket_services.ticket_create(
        actor=agent,
        data=ticket_services.NewTicket(subject="Invoice wrong", description="x", team=team_a),
    )
    response = agent_client.get(ticket.get_absolute_url())
    page = text(response)
    assert "Insert a link to a help article" in page
    assert "Search public articles" in page
    body = response.content.decode()
    assert 'data-knowledge-suggest="/knowledge/picker/"' in body
    assert 'data-target="id_body"' in body
    # Its inputs have no name: they never travel with the reply.
    picker = body[body.index("data-knowledge-picker") : body.index("knowledge-picker-results")]
    assert " name=" not in picker


def test_picker_links_default_to_the_requester_language(agent_client, agent, team_a):
    customer = Customer.objects.create(name="Acme")
    contact = Contact.objects.create(customer=customer, email="k@acme.example", language="de")
    ticket = ticket_services.ticket_create(
        actor=agent,
        data=ticket_services.NewTicket(
            subject="Rechnung", description="x", team=team_a, requester=contact
        ),
    )
    body = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert '<option value="de" selected>' in body
    without = ticket_services.ticket_create(
        actor=agent, data=ticket_services.NewTicket(subject="x", description="x", team=team_a)
    )
    body = agent_client.get(without.get_absolute_url()).content.decode()
    assert '<option value="en" selected>' in body


def test_picker_query_count(agent_client, agent, django_assert_max_num_queries):
    for i in range(12):
        make_article(f"scanner-{i}", owner=agent, en=(f"Scanner {i}", "scanner"))
    with django_assert_max_num_queries(9):
        agent_client.get(reverse("knowledge:picker"), {"q": "scanner"})


def test_reserved_slugs_are_refused(agent):
    article = Article(slug="suggest", owner=agent)
    with pytest.raises(ValidationError) as error:
        article.full_clean()
    assert "is the address of another page" in str(error.value.message_dict["slug"])
