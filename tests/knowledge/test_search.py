"""`knowledge.selectors.search`: full text on PostgreSQL (German and English stemming, the
reader's language first), the substring fallback used elsewhere, and who sees what."""

from __future__ import annotations

import pytest

from knowledge import selectors
from knowledge.models import Article, ArticleTranslation, Audience
from tests.knowledge.articles import make_article

pytestmark = pytest.mark.django_db


def slugs(hits: list[selectors.Hit]) -> list[str]:
    return [hit.article.slug for hit in hits]


@pytest.fixture(params=["fulltext", "substring"])
def engine(request, monkeypatch):
    """Each search test on both implementations: PostgreSQL full text, and the substring
    fallback the SQLite demo uses (portable ORM, so it runs on PostgreSQL too)."""
    if request.param == "fulltext":
        if not selectors.uses_fulltext():
            pytest.skip("full-text search needs PostgreSQL")
    else:
        monkeypatch.setattr(selectors, "uses_fulltext", lambda: False)
    return request.param


def test_finds_by_title_and_body_in_the_reader_language(kb, engine):
    hits = selectors.search("invoice", language="en", audience=Audience.PUBLIC)
    assert slugs(hits) == ["invoice-questions"]
    assert hits[0].translation.language == "en"
    assert hits[0].translation.title == "Questions about your invoice"
    hits = selectors.search("Rechnung", language="de", audience=Audience.PUBLIC)
    assert slugs(hits) == ["invoice-questions"]
    assert hits[0].translation.title == "Fragen zur Rechnung"


def test_internal_and_draft_articles_are_not_public(kb, engine):
    public = selectors.search("invoice", language="en", audience=Audience.PUBLIC)
    agents = selectors.search("invoice", language="en", audience=Audience.AGENTS)
    assert "invoice-credit-notes" not in slugs(public)
    assert "invoice-credit-notes" in slugs(agents)
    assert "invoice-address-change" not in slugs(public) + slugs(agents)


def test_every_word_must_match_unless_any_word(kb, engine):
    assert selectors.search("invoice password", language="en", audience=Audience.PUBLIC) == []
    hits = selectors.search(
        "invoice password", language="en", audience=Audience.PUBLIC, any_word=True
    )
    assert sorted(slugs(hits)) == ["invoice-questions", "password-reset"]


def test_the_last_word_may_be_a_prefix(kb, engine):
    hits = selectors.search("passw", language="en", audience=Audience.PUBLIC)
    assert slugs(hits) == ["password-reset"]


def test_nothing_to_search_finds_nothing(kb, engine):
    for query in ["", "   ", "?!", "a"]:
        assert selectors.search(query, language="en", audience=Audience.PUBLIC) == []


def test_syntax_of_the_query_language_is_only_text(kb, engine):
    for query in ["invoice & | ! ( ) :* '", "'); DROP TABLE x; --", "<->", "\\"]:
        selectors.search(query, language="en", audience=Audience.PUBLIC)  # no error


def test_an_article_without_the_reader_language_is_shown_in_another(db, agent, engine):
    make_article("vpn", owner=agent, en=("Connecting to the VPN", "Install the client."))
    hits = selectors.search("VPN", language="de", audience=Audience.PUBLIC)
    assert [(h.article.slug, h.translation.language) for h in hits] == [("vpn", "en")]


def test_category_narrows_the_search(kb, billing, engine):
    hits = selectors.search(
        "invoice password", language="en", audience=Audience.PUBLIC, any_word=True,
        category=billing,
    )  # fmt: skip
    assert slugs(hits) == ["invoice-questions"]


def test_query_count_does_not_grow_with_matches(db, agent, engine, django_assert_num_queries):
    for i in range(3):
        make_article(
            f"printer-{i}", owner=agent, en=(f"Printer {i}", "printer"), de=(f"Drucker {i}", "x")
        )
    with django_assert_num_queries(3):
        assert len(selectors.search("printer", language="en", audience=Audience.PUBLIC)) == 3
    for i in range(3, 15):
        make_article(
            f"printer-{i}", owner=agent, en=(f"Printer {i}", "printer"), de=(f"Drucker {i}", "x")
        )
    with django_assert_num_queries(3):
        assert len(selectors.search("printer", language="en", audience=Audience.PUBLIC)) == 15


# --- PostgreSQL only ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_german_stemming_finds_the_singular_from_the_plural(db, agent):
    make_article("rechnung", owner=agent, de=("Ihre Rechnung", "Die Rechnung kommt per Post."))
    hits = selectors.search("Rechnungen", language="de", audience=Audience.PUBLIC)
    assert slugs(hits) == ["rechnung"]
    # And the other way round: a stemmed word, not a substring, is matched.
    make_article("zahlungen", owner=agent, de=("Zahlungen", "Alle Zahlungen im Überblick."))
    assert slugs(selectors.search("Zahlung", language="de", audience=Audience.PUBLIC)) == [
        "zahlungen"
    ]


@pytest.mark.postgres
def test_english_stemming(db, agent):
    make_article("refunds", owner=agent, en=("Refunds", "We refunded the payment."))
    assert slugs(selectors.search("refunding", language="en", audience=Audience.PUBLIC)) == [
        "refunds"
    ]


@pytest.mark.postgres
def test_german_text_is_matched_with_the_german_configuration(db, agent):
    # "Zahlungen" would not stem to "zahlung" under the English configuration.
    make_article("zahlung", owner=agent, de=("Zahlung", "Zahlung per Lastschrift."))
    translation = ArticleTranslation.objects.get(article__slug="zahlung")
    assert "'zahlung'" in str(
        ArticleTranslation.objects.filter(pk=translation.pk).values_list(
            "search_vector", flat=True
        )[0]
    )
    assert slugs(selectors.search("Zahlungen", language="en", audience=Audience.PUBLIC)) == [
        "zahlung"
    ]


@pytest.mark.postgres
def test_the_reader_language_ranks_first(db, agent):
    make_article("en-only", owner=agent, en=("Router setup", "router router router"))
    make_article("de-only", owner=agent, de=("Router einrichten", "router router router"))
    assert slugs(selectors.search("router", language="de", audience=Audience.PUBLIC)) == [
        "de-only",
        "en-only",
    ]
    assert slugs(selectors.search("router", language="en", audience=Audience.PUBLIC)) == [
        "en-only",
        "de-only",
    ]


@pytest.mark.postgres
def test_title_weighs_more_than_body(db, agent):
    make_article("body", owner=agent, en=("Something else", "modem details here"))
    make_article("title", owner=agent, en=("Modem", "details"))
    assert slugs(selectors.search("modem", language="en", audience=Audience.PUBLIC)) == [
        "title",
        "body",
    ]


@pytest.mark.postgres
def test_an_edited_translation_is_found_by_its_new_words(db, agent):
    article = make_article("edit", owner=agent, en=("Old words", "nothing"))
    translation = article.translations.get()
    translation.title = "Scanner firmware"
    translation.save()
    assert slugs(selectors.search("firmware", language="en", audience=Audience.PUBLIC)) == ["edit"]
    assert selectors.search("old", language="en", audience=Audience.PUBLIC) == []


@pytest.mark.postgres
def test_the_search_uses_the_gin_index(db, agent):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'knowledge_translation_search'"
        )
        (definition,) = cursor.fetchone()
    assert "gin (search_vector)" in definition


def test_reader_language():
    assert selectors.reader_language("de-AT") == "de"
    assert selectors.reader_language("fr") == "en"
    assert selectors.reader_language("EN") == "en"


def test_publishing_is_recorded_and_visibility_checked(db, agent):
    article = make_article("x", owner=agent, status=Article.Status.DRAFT, en=("X", "x"))
    assert article.published_at is None and not article.is_public
    article.status = Article.Status.PUBLISHED
    article.save()
    assert article.published_at is not None and article.is_public
