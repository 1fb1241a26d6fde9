"""Writes of the knowledge base: counting a deflection and marking an article reviewed.

Articles themselves are edited in the admin (`knowledge/admin.py`); the model keeps its
derived columns (review date, search vectors) on save, whoever saves.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from knowledge.models import Article, Deflection
from knowledge.selectors import reader_language

_SESSION_SALT = "knowledge.deflection"


def session_fingerprint(session_key: str) -> str:
    """What a deflection keeps of the session: an HMAC of its key, never the key itself."""
    return salted_hmac(_SESSION_SALT, session_key, algorithm="sha256").hexdigest()


@transaction.atomic
def deflection_record(
    *,
    article: Article,
    session_key: str,
    language: str,
    source: str,
    context: str = "",
) -> tuple[Deflection, bool]:
    """Count that `article` solved the problem of the reader of session `session_key`.

    Once per article and session: a second call (a double click, a resubmit, two tabs) returns
    the first row and False. Only a published public article can be counted; anything else
    raises `PermissionDenied`."""
    if not article.is_public:
        raise PermissionDenied(_("This article is not public."))
    if not session_key:
        raise ValueError("a deflection needs a session")
    if source not in Deflection.Source.values:
        raise ValueError(f"unknown source {source!r}")
    fingerprint = session_fingerprint(session_key)
    try:
        with transaction.atomic():  # a savepoint: a racing twin may insert first
            deflection = Deflection.objects.create(
                article=article,
                session_hash=fingerprint,
                language=reader_language(language),
                source=source,
                context=context,
            )
    except IntegrityError:
        return Deflection.objects.get(article=article, session_hash=fingerprint), False
    return deflection, True


def can_review(article: Article, user: Any) -> bool:
    """The owner reviews an article; so may whoever may change articles."""
    return bool(
        user.is_authenticated
        and user.is_active
        and (article.owner_id == user.pk or user.has_perm("knowledge.change_article"))
    )


@transaction.atomic
def article_mark_reviewed(*, article: Article, actor: Any, today: date | None = None) -> Article:
    """Record that `actor` reviewed `article` `today` (default: the local date); its next
    review falls due one interval later. Raises `PermissionDenied` for anyone but the owner
    or an editor."""
    locked = Article.objects.select_for_update().get(pk=article.pk)
    if not can_review(locked, actor):
        raise PermissionDenied(_("Only the article's owner or an editor can mark it reviewed."))
    locked.last_reviewed_on = today or timezone.localdate()
    locked.save(update_fields=["last_reviewed_on", "updated_at"])
    return locked
