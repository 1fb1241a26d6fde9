"""Template filters of the knowledge pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from knowledge.models import Article, ArticleTranslation
from knowledge.rendering import plain_text, render_markdown
from knowledge.selectors import pick_translation, reader_language
from knowledge.services import can_review

register = template.Library()


@register.filter
def article_body(translation: ArticleTranslation) -> SafeString:
    """The translation's Markdown body as sanitised HTML (see knowledge/rendering.py)."""
    return mark_safe(render_markdown(translation.body))  # noqa: S308 - sanitised by nh3


@register.filter
def article_summary(translation: ArticleTranslation) -> str:
    """The summary, or the start of the body as plain text (escaped like any text)."""
    return translation.summary or plain_text(translation.body)


@register.simple_tag
def article_title(article: Article) -> str:
    """The article's title in the reader's language (or another, or its slug)."""
    translation = pick_translation(article, reader_language())
    return translation.title if translation else article.slug


@register.filter
def reviewable_by(article: Article, user: Any) -> bool:
    return can_review(article, user)


@register.simple_tag
def link_language(ticket: Any) -> str:
    """The language a reply's article links should have: the requester's (the customer the
    reply goes to), else the page's. One query, only for a ticket with a requester."""
    if ticket is not None and getattr(ticket, "requester_id", None):
        return reader_language(ticket.requester.language)
    return reader_language()
