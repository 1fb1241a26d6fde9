"""Knowledge pages.

For agents, under /knowledge/: the list with search, an article (drafts and internal articles
included), the articles due for review, and the picker of the reply box. For everyone, under
/help/, no sign-in needed: the public help pages with search, the suggestion fragment that
forms show while a customer types, and "this solved my problem".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from knowledge import selectors, services
from knowledge.forms import DeflectionForm, SearchForm, suggestion_context
from knowledge.models import Audience, Deflection
from tickets.services import is_agent

SUGGESTIONS = 5
PICKER_RESULTS = 8
# Fewer characters than this are not worth a search while someone types.
SUGGEST_MIN_CHARS = 3
# The session remembers which articles its reader said solved their problem.
SOLVED_SESSION_KEY = "knowledge_solved"


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the login page) and an agent (else 403)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_agent(request.user):
            raise PermissionDenied(_("Only agents can do this."))
        request._helpdesk_is_agent = True  # type: ignore[attr-defined]  # for the navbar
        return view(request, *args, **kwargs)

    return wrapped


def _partial(request: HttpRequest, template: str, name: str) -> str:
    return f"{template}#{name}" if getattr(request, "htmx", False) else template


def _language_asked(request: HttpRequest) -> str | None:
    """`lang` (of the query, or of the form posted) when it names one of the site's
    languages."""
    wanted = request.POST.get("lang", "") or request.GET.get("lang", "")
    return wanted if wanted in dict(settings.LANGUAGES) else None


def _search_page(request: HttpRequest, audience: str) -> dict[str, Any]:
    form = SearchForm(request.GET)
    query, category = form.search_values()
    language = selectors.reader_language()
    if query:
        hits = selectors.search(query, language=language, audience=audience, category=category)
    else:
        hits = selectors.browse(language=language, audience=audience, category=category)
    return {"form": form, "query": query, "category": category, "hits": hits}


# --- Agents -----------------------------------------------------------------------------------


@agent_required
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    context = _search_page(request, Audience.AGENTS)
    template = _partial(request, "knowledge/list.html", "results")
    return render(request, template, context)


@agent_required
@require_GET
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_for_reader(slug, audience=None)
    language = _language_asked(request) or selectors.reader_language()
    shown = selectors.pick_translation(article, language)
    context = {
        "article": article,
        "shown": shown,
        "translations": list(article.translations.all()),
        "deflections": selectors.deflection_totals([article]).get(article.pk, 0),
        "can_review": services.can_review(article, request.user),
        "can_edit": request.user.has_perm("knowledge.change_article"),
        "public_url": f"{settings.SITE_URL}{article.public_path()}",
        "today": timezone.localdate(),
    }
    return render(request, "knowledge/article.html", context)


@agent_required
@require_GET
def review_list(request: HttpRequest) -> HttpResponse:
    everyone = request.GET.get("owner") == "all"
    articles = selectors.due_for_review(
        today=timezone.localdate(), owner=None if everyone else request.user
    )
    return render(
        request,
        "knowledge/review.html",
        {"articles": articles, "everyone": everyone, "language": selectors.reader_language()},
    )


@agent_required
@require_POST
def mark_reviewed(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_for_reader(slug, audience=None)
    services.article_mark_reviewed(article=article, actor=request.user)
    messages.success(request, _("Marked as reviewed today."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = article.get_absolute_url()
    return redirect(target)


@agent_required
@require_GET
def picker(request: HttpRequest) -> HttpResponse:
    """The reply box's article picker: public articles matching `q`, each with its public
    address in the language asked for (`lang`, the customer's), ready to insert."""
    language = _language_asked(request) or selectors.reader_language()
    query = request.GET.get("q", "")
    hits = selectors.search(
        query, language=language, audience=Audience.PUBLIC, limit=PICKER_RESULTS
    )
    results = [
        {
            "hit": hit,
            "url": f"{settings.SITE_URL}{hit.article.public_path()}?"
            + urlencode({"lang": hit.translation.language}),
        }
        for hit in hits
    ]
    return render(
        request,
        "knowledge/_picker_results.html",
        {"results": results, "query": query.strip()},
    )


# --- The public help pages --------------------------------------------------------------------


def _solved(request: HttpRequest) -> set[int]:
    return set(request.session.get(SOLVED_SESSION_KEY, []))


@require_GET
def help_index(request: HttpRequest) -> HttpResponse:
    context = _search_page(request, Audience.PUBLIC)
    context["categories"] = selectors.categories_with_articles(Audience.PUBLIC)
    return render(request, _partial(request, "knowledge/help_index.html", "results"), context)


@require_GET
def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_for_reader(slug, audience=Audience.PUBLIC)
    asked = _language_asked(request)
    language = asked or selectors.reader_language()
    shown = selectors.pick_translation(article, language)
    if shown is None:
        raise Http404
    from_suggestion = request.GET.get("from") == Deflection.Source.SUGGESTION
    context = {
        "article": article,
        "shown": shown,
        "translations": list(article.translations.all()),
        "source": Deflection.Source.SUGGESTION if from_suggestion else Deflection.Source.ARTICLE,
        "context": suggestion_context(request.GET.get("context", "")),
        "solved": article.pk in _solved(request),
        "lang": asked or "",
    }
    # A link in the customer's language (from an agent's reply) shows the whole page in it.
    with translation.override(asked or translation.get_language()):
        return render(request, "knowledge/help_article.html", context)


@require_GET
def help_suggest(request: HttpRequest) -> HttpResponse:
    """Up to five public articles matching the text typed in `q` (any of its words), as an
    HTML fragment for `static/js/knowledge-suggest.js`; empty for a short text."""
    query = request.GET.get("q", "").strip()
    hits = []
    if len(query) >= SUGGEST_MIN_CHARS:
        hits = selectors.search(
            query,
            language=selectors.reader_language(),
            audience=Audience.PUBLIC,
            limit=SUGGESTIONS,
            any_word=True,
        )
    context = {
        "hits": hits,
        "context": suggestion_context(request.GET.get("context", "")),
        "solved": _solved(request) if hits else set(),
    }
    return render(request, "knowledge/_suggestions.html", context)


@require_POST
def help_solved(request: HttpRequest, slug: str) -> HttpResponse:
    """ "This solved my problem": counted once per article and browser session."""
    article = selectors.article_for_reader(slug, audience=Audience.PUBLIC)
    form = DeflectionForm(request.POST)
    if not form.is_valid():
        return HttpResponse(
            _("This request is not valid."), status=400, content_type="text/plain; charset=utf-8"
        )
    solved = _solved(request) | {article.pk}
    request.session[SOLVED_SESSION_KEY] = sorted(solved)
    if request.session.session_key is None:
        request.session.save()
    asked = _language_asked(request)
    services.deflection_record(
        article=article,
        session_key=request.session.session_key or "",
        language=asked or selectors.reader_language(),
        source=form.cleaned_data["source"],
        context=form.cleaned_data["context"],
    )
    if getattr(request, "htmx", False):
        return render(request, "knowledge/_solved.html", {"article": article})
    # Back to the page as it was read: in the language of its link.
    with translation.override(asked or translation.get_language()):
        messages.success(request, _("Thank you! We are glad the article helped."))
    query = f"?{urlencode({'lang': asked})}" if asked else ""
    return redirect(article.public_path() + query)
