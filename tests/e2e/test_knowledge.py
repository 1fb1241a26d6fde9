"""The knowledge base in a real browser: suggestions appear while a customer types into a
form that uses static/js/knowledge-suggest.js, "this solved my problem" is counted once, and
an agent inserts an article link into a reply from the reply box."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from knowledge.models import Deflection
from tests.factories import TeamFactory, UserFactory
from tests.knowledge.articles import make_article
from tickets import services as ticket_services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# A form as the customer portal builds it: an input marked for suggestions, the module loaded
# from our static files. Served at an address of the live server, so it is same-origin.
FORM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>New request</title>
<script src="/static/js/knowledge-suggest.js" defer></script></head>
<body><form method="post" action="/nowhere/">
<label for="subject">Subject</label>
<input id="subject" name="subject" data-knowledge-suggest="/help/suggest/"
       data-knowledge-context="portal-new-ticket">
<button type="submit">Send</button>
</form></body></html>"""


@pytest.fixture
def articles(transactional_db):
    owner = UserFactory(username="kb-owner")
    make_article(
        "password-reset",
        owner=owner,
        en=("Reset your password", "Use *Forgot password* on the sign-in page."),
        de=("Passwort zurücksetzen", "Nutzen Sie *Passwort vergessen*."),
    )
    make_article(
        "invoice-questions",
        owner=owner,
        en=("Questions about your invoice", "Where to find invoices."),
        de=("Fragen zur Rechnung", "Wo Sie Rechnungen finden."),
    )
    make_article(
        "password-policy",
        owner=owner,
        visibility="internal",
        en=("Password policy for agents", "Internal."),
    )
    return owner


def test_suggestions_appear_while_typing_and_solved_counts_once(page: Page, live_server, articles):
    page.route(
        f"{live_server.url}/portal-form/",
        lambda route: route.fulfill(status=200, content_type="text/html", body=FORM_PAGE),
    )
    page.goto("/portal-form/")
    page.get_by_label("Subject").press_sequentially("I forgot my password", delay=20)
    suggestions = page.locator(".knowledge-suggestions")
    expect(suggestions).to_contain_text("These articles may answer your question:")
    expect(suggestions.get_by_role("link", name="Reset your password")).to_have_attribute(
        "href", "/help/password-reset/?from=suggestion&context=portal-new-ticket"
    )
    expect(suggestions).not_to_contain_text("Password policy for agents")  # internal
    expect(suggestions).not_to_contain_text("invoice")

    button = suggestions.get_by_role("button", name="This solved my problem")
    button.dblclick()
    expect(suggestions).to_contain_text("Thank you! We are glad the article helped.")
    deflection = Deflection.objects.get()
    assert (deflection.article.slug, deflection.source, deflection.context) == (
        "password-reset",
        "suggestion",
        "portal-new-ticket",
    )

    # Typing on: other suggestions; the counted article stays counted for this session.
    page.get_by_label("Subject").fill("Rechnung falsch, und mein password?")
    expect(suggestions.get_by_role("link", name="Questions about your invoice")).to_be_visible()
    expect(suggestions).to_contain_text("Thank you! We are glad the article helped.")
    assert Deflection.objects.count() == 1


def test_agent_inserts_an_article_link_into_a_reply(page: Page, live_server, articles, settings):
    agent = UserFactory(username="alice")
    team = TeamFactory(name="Service Desk", members=[agent])
    ticket = ticket_services.ticket_create(
        actor=agent,
        data=ticket_services.NewTicket(subject="Login broken", description="x", team=team),
    )
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))
    page.goto(ticket.get_absolute_url())

    reply = page.get_by_label("Message")
    reply.fill("Hello, please follow this guide: ")
    page.get_by_text("Insert a link to a help article").click()
    page.get_by_label("Language of the link").select_option("de")
    search = page.get_by_label("Search public articles")
    search.fill("password")
    search.press("Enter")  # searches; does not send the reply
    results = page.locator("#knowledge-picker-results")
    expect(results).to_contain_text("Passwort zurücksetzen")
    expect(results).not_to_contain_text("Password policy")  # internal: no public page
    results.get_by_role("button", name="Insert link").click()
    expect(reply).to_have_value(
        re.compile(
            r"^Hello, please follow this guide: \[Passwort zurücksetzen\]"
            r"\(https?://[^)\s]+/help/password-reset/\?lang=de\)$"
        )
    )
    assert ticket.messages.count() == 0  # nothing was sent by the picker's Enter


def test_help_centre_search_article_and_solved(page: Page, articles):
    page.goto("/help/")
    expect(page.get_by_role("heading", name="How can we help?")).to_be_visible()
    results = page.locator("#results")
    expect(results).to_contain_text("Reset your password")
    expect(results).not_to_contain_text("Password policy for agents")
    page.get_by_label("Search").fill("invoices")
    expect(results).to_contain_text("1 article for “invoices”")
    expect(results).not_to_contain_text("Reset your password")
    expect(page).to_have_url(re.compile(r"/help/\?q=invoices"))
    results.get_by_role("link", name="Questions about your invoice").click()
    expect(page.get_by_role("heading", name="Questions about your invoice")).to_be_visible()
    page.get_by_role("link", name="German").click()
    expect(page.get_by_role("heading", name="Fragen zur Rechnung")).to_be_visible()
    page.get_by_role("button", name="Das hat mein Problem gelöst").click()
    expect(page.get_by_text("Danke! Schön, dass der Artikel geholfen hat.").first).to_be_visible()
    deflection = Deflection.objects.get()
    assert (deflection.article.slug, deflection.source, deflection.language) == (
        "invoice-questions",
        "article",
        "de",
    )
