"""The HTML forms the pages offer, found by fetching every GET page of the world as a role
that may open it and parsing its `<form method="post">` elements."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve

from tests.security.routes import EXPECTED, routes, url_for
from tests.security.world import ROLES


class _Forms(HTMLParser):
    """Each POST form's fields with the value a user who changes nothing would send, and
    for a visible text field left empty, a plausible value (`PLAUSIBLE`), so that sending
    the form does what the form is for."""

    PLAUSIBLE = {"email": "someone@example.org", "number": "1", "date": "2026-01-05"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields = {}
            self.forms.append((a.get("action", ""), self._fields))
        if self._fields is None:
            return
        name = a.get("name")
        if tag == "option" and self._select is not None:
            value = a.get("value", "")
            if value and (self._select not in self._fields or "selected" in a):
                self._fields[self._select] = value
        elif not name:
            return
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            self._fields[name] = "Sent twice by the security suite."
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in self._fields:
                    self._fields[name] = a.get("value", "on")
            elif kind == "file":
                return
            elif a.get("value"):
                self._fields[name] = a["value"]
            elif kind != "hidden":
                self._fields[name] = self.PLAUSIBLE.get(kind, "Security suite")
            else:
                self._fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._fields is not None and data.strip():
            self._fields[self._textarea] = data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def found_forms(world) -> dict[str, dict[str, str]]:
    """Action path → fields, from every page the world's roles can open."""
    found: dict[str, dict[str, str]] = {}
    for route in routes():
        rule = EXPECTED[route.name]
        if route.is_api or "get" not in route.methods(rule) or rule.absent:
            continue
        role = next((r for r in ROLES if r in rule.get), None)
        if role is None:
            continue
        url = url_for(route.name, world)
        response = world.clients[role].get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for action, fields in parser.forms:
            path = urlsplit(action).path or url
            found.setdefault(path, {}).update(fields)
    return found


def poster(path: str) -> str | None:
    try:
        name = resolve(path).view_name
    except Resolver404:
        return None
    rule = EXPECTED.get(name)
    if rule is None:
        return None
    return next((r for r in ROLES if r in rule.post), None)
