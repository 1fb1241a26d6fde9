"""Editing articles in the admin (translations inline, search vectors kept fresh), the review
action, and the deflection figures for reporting."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from knowledge import selectors, services
from knowledge.models import Article, Audience, Deflection
from tests.knowledge.articles import page_text

pytestmark = pytest.mark.django_db


def inline(prefix: str, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "1",
        f"{prefix}-MAX_NUM_FORMS": "2",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def article_form(admin_user, **overrides: str) -> dict[str, str]:
    return {
        "slug": "scanner-setup",
        "category": "",
        "visibility": "public",
        "status": "published",
        "owner": str(admin_user.pk),
        "last_reviewed_on": timezone.localdate().isoformat(),
        "review_interval_days": "90",
        **overrides,
        **inline(
            "translations",
            [
                {"language": "en", "title": "Setting up the scanner", "summary": "", "body": "x"},
                {"language": "de", "title": "Scanner einrichten", "summary": "", "body": "y"},
            ],
        ),
    }


def test_an_article_written_in_the_admin_is_found(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/knowledge/article/add/", article_form(admin_user))
    assert response.status_code == 302, page_text(response)
    article = Article.objects.get(slug="scanner-setup")
    assert article.translations.count() == 2
    assert article.review_due_on == timezone.localdate() + dt.timedelta(days=90)
    hits = selectors.search("scanner", language="de", audience=Audience.PUBLIC)
    assert [h.translation.title for h in hits] == ["Scanner einrichten"]


def test_the_admin_refuses_two_translations_in_one_language(client, admin_user):
    client.force_login(admin_user)
    data = article_form(admin_user)
    data["translations-1-language"] = "en"
    response = client.post("/admin/knowledge/article/add/", data)
    assert response.status_code == 200
    assert not Article.objects.exists()


def test_the_admin_refuses_a_reserved_slug(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/knowledge/article/add/", article_form(admin_user, slug="suggest")
    )
    assert response.status_code == 200
    assert "is the address of another page" in page_text(response)


def test_admin_lists_articles_with_their_deflections(client, admin_user, kb):
    services.deflection_record(
        article=kb["invoice"], session_key="s1", language="en", source="suggestion"
    )
    client.force_login(admin_user)
    page = page_text(client.get("/admin/knowledge/article/"))
    assert "Questions about your invoice" in page
    assert page_text(client.get("/admin/knowledge/deflection/")).count("invoice-questions") == 1


def test_admin_action_marks_reviewed(client, admin_user, kb):
    article = kb["password"]
    article.last_reviewed_on = timezone.localdate() - dt.timedelta(days=300)
    article.save()
    client.force_login(admin_user)
    response = client.post(
        "/admin/knowledge/article/",
        {"action": "mark_reviewed", "_selected_action": [str(article.pk)]},
        follow=True,
    )
    assert "1 article marked reviewed." in page_text(response)
    article.refresh_from_db()
    assert article.last_reviewed_on == timezone.localdate()


def test_deflection_counts_for_reporting(kb):
    now = timezone.now()
    for key in ["a", "b", "c"]:
        services.deflection_record(
            article=kb["invoice"], session_key=key, language="de", source="suggestion"
        )
    services.deflection_record(
        article=kb["password"], session_key="a", language="en", source="article"
    )
    Deflection.objects.filter(session_hash=services.session_fingerprint("c")).update(
        created_at=now - dt.timedelta(days=40)
    )
    assert selectors.deflection_counts() == [
        {"article_id": kb["invoice"].pk, "slug": "invoice-questions", "count": 3},
        {"article_id": kb["password"].pk, "slug": "password-reset", "count": 1},
    ]
    assert selectors.deflection_counts(since=now - dt.timedelta(days=30)) == [
        {"article_id": kb["invoice"].pk, "slug": "invoice-questions", "count": 2},
        {"article_id": kb["password"].pk, "slug": "password-reset", "count": 1},
    ]
    assert selectors.deflection_totals([kb["invoice"], kb["internal"]]) == {kb["invoice"].pk: 3}


def test_deflection_service_refuses_what_is_not_public(kb):
    from django.core.exceptions import PermissionDenied

    for key in ["internal", "draft"]:
        with pytest.raises(PermissionDenied):
            services.deflection_record(
                article=kb[key], session_key="s", language="en", source="suggestion"
            )
    with pytest.raises(ValueError, match="unknown source"):
        services.deflection_record(
            article=kb["invoice"], session_key="s", language="en", source="mail"
        )
    assert not Deflection.objects.exists()


def test_a_double_submit_is_one_deflection(kb):
    first, created = services.deflection_record(
        article=kb["invoice"], session_key="same", language="en", source="suggestion"
    )
    again, created_again = services.deflection_record(
        article=kb["invoice"], session_key="same", language="de", source="article"
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.source == "suggestion"
    assert Deflection.objects.count() == 1
