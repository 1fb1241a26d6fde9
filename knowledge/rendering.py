"""Article bodies: Markdown rendered to HTML, then sanitised with an allowlist (nh3).

Pure: text in, safe HTML out. Articles are written by staff, but they are shown on public pages
to anyone, so nothing an author types (raw HTML inside the Markdown, links, images) may run
script there: only the tags and attributes below survive, and a link or image address keeps
its place only when it is relative or uses http, https or mailto. The sanitiser parses the
HTML as a browser would, so entity-encoded (`&#106;avascript:`) and split (`java\tscript:`)
schemes are decoded before they are checked; `safe_url` checks once more with control
characters and whitespace removed.
"""

from __future__ import annotations

import html
import re

import markdown
import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th",
    "td", "dl", "dt", "dd", "kbd", "sup", "sub", "abbr", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src"}
# Tags whose content goes with them (the rest of an unknown tag keeps its text).
DROP_WITH_CONTENT = {"script", "style", "svg", "math", "iframe", "object", "template", "noscript"}

_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]+")


def safe_url(value: str) -> str | None:
    """`value` when it is a relative address or one of `URL_SCHEMES`, else None.

    Browsers drop tabs, newlines and other control characters inside a URL and decode
    character references before they look at the scheme, so the check does the same."""
    folded = _INVISIBLE.sub("", html.unescape(value)).lower()
    match = _SCHEME.match(folded)
    if match and match.group(1) not in URL_SCHEMES:
        return None
    if folded.startswith(("\\", "/\\")):
        return None  # "\\evil.example" is a host to some browsers
    return value


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in URL_ATTRIBUTES:
        return safe_url(value)
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=DROP_WITH_CONTENT,
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def sanitise(fragment: str) -> str:
    """`fragment` with everything outside the allowlist removed."""
    return _cleaner.clean(fragment)


def render_markdown(text: str) -> str:
    """Markdown `text` as sanitised HTML."""
    rendered = markdown.markdown(
        text or "", extensions=["extra", "sane_lists"], output_format="html"
    )
    return sanitise(rendered)


def plain_text(text: str, *, limit: int = 200) -> str:
    """The words of Markdown `text` without markup, cut at a word boundary near `limit`
    characters (for lists and suggestions; escaped by the template like any text)."""
    words = " ".join(html.unescape(nh3.clean(render_markdown(text), tags=set())).split())
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0]
    return cut + "…"
