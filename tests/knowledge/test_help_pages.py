"""The public help pages under /help/: no sign-in, public published articles only, in the
reader's language; the suggestion fragment; "this solved my problem"."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from knowledge.models import Deflection
from tests.knowledge.articles import make_article
from tests.knowledge.articles import page_text as text

pytestmark = pytest.mark.django_db


def test_index_lists_public_articles_only_without_sign_in(client, kb):
    response = client.get("/help/")
    assert response.status_code == 200
    page = text(response)
    assert "Questions about your invoice" in page
    assert "Reset your password" in page
    assert "credit note" not in page  # internal
    assert "Changing the address" not in page  # draft
    assert "2 articles" in page


def test_index_search_in_german(client, kb):
    response = client.get("/help/", {"q": "Rechnung"}, HTTP_ACCEPT_LANGUAGE="de")
    page = text(response)
    assert "Fragen zur Rechnung" in page
    assert "Gutschrift" not in page
    assert "1 Artikel für „Rechnung“" in page or "Rechnung" in page


def test_index_search_for_htmx_answers_the_results_only(client, kb):
    response = client.get("/help/", {"q": "invoice"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "Questions about your invoice" in body


def test_a_bad_search_is_not_an_error(client, kb):
    response = client.get("/help/", {"q": "x" * 500, "category": "no-such-category"})
    assert response.status_code == 200


def test_article_page_in_the_reader_language(client, kb):
    url = reverse("help:article", args=["invoice-questions"])
    english = text(client.get(url))
    assert "Questions about your invoice" in english
    assert "Also in: German" in english
    german = client.get(url, HTTP_ACCEPT_LANGUAGE="de")
    assert "Fragen zur Rechnung" in text(german)
    assert 'lang="de"' in german.content.decode()


def test_a_link_with_lang_shows_the_page_in_that_language(client, kb):
    response = client.get("/help/invoice-questions/?lang=de")
    page = text(response)
    assert "Fragen zur Rechnung" in page
    assert "Hat dieser Artikel Ihr Problem gelöst?" in page


@pytest.mark.parametrize("slug", ["invoice-credit-notes", "invoice-address-change", "nothing"])
def test_internal_draft_and_unknown_articles_are_not_found(client, kb, slug):
    assert client.get(f"/help/{slug}/").status_code == 404
    assert client.post(f"/help/{slug}/solved/", {"source": "article"}).status_code == 404


def test_article_markdown_is_sanitised_on_the_page(client, agent):
    make_article(
        "evil",
        owner=agent,
        en=("Evil", "Hi <script>alert(1)</script>[x](javascript:alert(2)) <img src=x onerror=y>"),
    )
    body = client.get("/help/evil/").content.decode()
    assert "alert(1)" not in body and "javascript:" not in body and "onerror" not in body


# --- Suggestions --------------------------------------------------------------------------------


def test_suggestions_are_public_articles_matching_any_word(client, kb):
    response = client.get(
        "/help/suggest/", {"q": "My invoice is wrong", "context": "portal-new-ticket"}
    )
    assert response.status_code == 200
    page = text(response)
    assert "These articles may answer your question:" in page
    assert "Questions about your invoice" in page
    assert "credit note" not in page and "Changing the address" not in page
    body = response.content.decode()
    assert "/help/invoice-questions/?from=suggestion&amp;context=portal-new-ticket" in body
    assert 'data-knowledge-solved="/help/invoice-questions/solved/"' in body
    assert "<form" not in body  # it may sit inside the form being typed in


def test_suggestions_are_at_most_five(client, agent):
    for i in range(8):
        make_article(f"printer-{i}", owner=agent, en=(f"Printer problem {i}", "printer"))
    response = client.get("/help/suggest/", {"q": "printer"})
    assert text(response).count("Printer problem") == 5


def test_short_or_unmatched_text_suggests_nothing(client, kb):
    for q in ["", "in", "zzzz qqqq"]:
        response = client.get("/help/suggest/", {"q": q})
        assert response.status_code == 200
        assert response.content.decode().strip() == ""


def test_a_context_that_is_not_a_slug_is_dropped(client, kb):
    body = client.get("/help/suggest/", {"q": "invoice", "context": '"><script>'}).content.decode()
    assert "<script>" not in body
    assert '?from=suggestion"' in body


def test_suggestions_in_german(client, kb):
    response = client.get("/help/suggest/", {"q": "Rechnungen"}, HTTP_ACCEPT_LANGUAGE="de")
    page = text(response)
    assert "Fragen zur Rechnung" in page
    assert "Diese Artikel beantworten vielleicht Ihre Frage:" in page


def test_suggest_query_count(client, agent, django_assert_max_num_queries):
    for i in range(10):
        make_article(f"printer-{i}", owner=agent, en=(f"Printer {i}", "printer"))
    with django_assert_max_num_queries(3):
        client.get("/help/suggest/", {"q": "printer"})


def test_index_query_count_is_flat(client, agent, billing, django_assert_max_num_queries):
    def count() -> int:
        with django_assert_max_num_queries(6) as captured:
            assert client.get("/help/").status_code == 200
        return len(captured.captured_queries)

    for i in range(3):
        make_article(f"a-{i}", owner=agent, category=billing, en=(f"A {i}", "x"), de=("A", "x"))
    few = count()
    for i in range(3, 20):
        make_article(f"a-{i}", owner=agent, category=billing, en=(f"A {i}", "x"), de=("A", "x"))
    assert count() == few


# --- Deflections --------------------------------------------------------------------------------


def test_solved_counts_once_per_session(client, kb):
    url = "/help/invoice-questions/solved/"
    data = {"source": "suggestion", "context": "portal-new-ticket"}
    first = client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="de")
    assert first.status_code == 200
    assert "Danke" in text(first)
    second = client.post(url, data, HTTP_HX_REQUEST="true")
    assert second.status_code == 200
    deflection = Deflection.objects.get()
    assert deflection.article == kb["invoice"]
    assert (deflection.source, deflection.context, deflection.language) == (
        "suggestion",
        "portal-new-ticket",
        "de",
    )
    assert client.session.session_key not in deflection.session_hash
    # Another browser session counts again; another article too.
    Client().post(url, data, HTTP_HX_REQUEST="true")
    client.post("/help/password-reset/solved/", {"source": "article"})
    assert Deflection.objects.filter(article=kb["invoice"]).count() == 2
    assert Deflection.objects.count() == 3


def test_solved_without_javascript_redirects_with_a_message(client, kb):
    response = client.post(
        "/help/password-reset/solved/", {"source": "article", "context": ""}, follow=True
    )
    assert response.redirect_chain == [("/help/password-reset/", 302)]
    page = text(response)
    assert "Thank you! We are glad the article helped." in page
    assert "This solved my problem" not in page  # the session remembers
    assert Deflection.objects.get().source == "article"


def test_solved_needs_the_csrf_token(kb):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/help/password-reset/solved/", {"source": "article"})
    assert response.status_code == 403
    assert not Deflection.objects.exists()


def test_solved_with_the_token_from_the_fragment(kb):
    client = Client(enforce_csrf_checks=True)
    fragment = client.get("/help/suggest/", {"q": "password"}).content.decode()
    token = re.search(r'data-csrf="([^"]+)"', fragment).group(1)
    response = client.post(
        "/help/password-reset/solved/",
        {"source": "suggestion"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert Deflection.objects.count() == 1


@pytest.mark.parametrize(
    "data", [{}, {"source": "elsewhere"}, {"source": "article", "context": "<b>"}]
)
def test_solved_refuses_bad_input(client, kb, data):
    response = client.post("/help/password-reset/solved/", data)
    assert response.status_code == 400
    assert not Deflection.objects.exists()


def test_solved_only_by_post(client, kb):
    assert client.get("/help/password-reset/solved/").status_code == 405


def test_the_page_opened_from_a_suggestion_counts_as_a_suggestion(client, kb):
    page = client.get("/help/password-reset/?from=suggestion&context=portal-new-ticket")
    body = page.content.decode()
    assert 'name="source" value="suggestion"' in body
    assert 'name="context" value="portal-new-ticket"' in body
