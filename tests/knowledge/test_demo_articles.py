"""The demo's knowledge base: real articles in German and English, seeded once."""

from __future__ import annotations

import pytest

from demo.knowledge import seed_articles
from knowledge import selectors
from knowledge.models import Article, ArticleTranslation, Audience

pytestmark = pytest.mark.django_db


def test_demo_articles_are_seeded_once_in_both_languages(admin_user):
    assert seed_articles(fallback_owner=admin_user) == 5
    assert seed_articles(fallback_owner=admin_user) == 0
    assert Article.objects.count() == 5
    assert ArticleTranslation.objects.filter(language="de").count() == 5
    assert ArticleTranslation.objects.filter(language="en").count() == 5
    public = {h.article.slug for h in selectors.browse(language="de", audience=Audience.PUBLIC)}
    assert public == {"password-reset", "invoice-questions", "checkout-payment-failed"}
    hits = selectors.search("Passwort vergessen", language="de", audience=Audience.PUBLIC)
    assert [h.translation.title for h in hits] == ["Passwort zurücksetzen"]
