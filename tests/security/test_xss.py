"""Stored XSS: a corpus of payloads in every user-writable text field, rendered on the pages,
fragments and exports that show them, and no payload comes out as markup.

The fields are found by introspection: every CharField and TextField of every model (the
project's apps and the user), editable, without choices, minus the few in NOT_TEXT that are
identifiers or secrets rather than text somebody writes. A field added later is covered
without touching this file. Every row of the world gets payloads (rotated, one per field,
as many rounds as there are payloads, within each field's max_length), then the pages are
fetched as the people who see them, and the HTML is parsed: an injected element, event
handler, attribute, `javascript:`/`data:` link or evaluated template expression fails.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.urls import reverse

from portal.session import CHECK_KEY, contact_check
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

# Each payload carries `zqx<n>`, so what it became in the page can be found.
CORPUS = (
    "<script>alert('zqx1')</script>",
    "\"><img src=x onerror=alert('zqx2')>",
    "'><svg onload=alert('zqx3')>",
    '" onmouseover="alert(\'zqx4\')" x="',
    "javascript:alert('zqx5')",
    "[click me](javascript:alert('zqx6'))",
    "data:text/html,<script>alert('zqx7')</script>",
    "&#106;avascript:alert('zqx8')",
    "java\tscript:alert('zqx9')",
    "<svg><script>alert('zqx10')</script></svg>",
    "{{ 'zqx11'|upper }}{% templatetag openbrace %}",
    "<a href=\"javascript:alert('zqx12')\">x</a>",
    "</textarea></title><iframe src=\"javascript:alert('zqx13')\">",
    "<img src=\"jav&#x09;ascript:alert('zqx14')\">",
    '=HYPERLINK("http://x.example/zqx15")',
)
# A template expression that was evaluated shows its result.
EVALUATED = "ZQX11"

# Not text somebody writes for others to read: identifiers the code matches on, secrets,
# time zones and content types (validated names), and the message templates, whose body is
# a template the admin writes on purpose.
NOT_TEXT = {
    "password", "digest", "token_key", "key", "secret", "codename", "app_label", "model",
    "session_key", "session_data", "time_zone", "timezone", "holiday_country",
    "holiday_subdivision", "content_type", "method", "fingerprint", "event_id", "message_id",
    "in_reply_to", "trigger", "kind", "query", "imap_password_env", "inbound_token_env",
    "dedup_key", "external_id", "system", "path", "path_info", "token", "language",
}  # fmt: skip
NOT_WRITTEN_BY_USERS = {
    "admin.LogEntry", "auth.Permission", "contenttypes.ContentType", "sessions.Session",
    "authtoken.Token", "authtoken.TokenProxy", "otp_totp.TOTPDevice", "otp_static.StaticDevice",
    "otp_static.StaticToken", "axes.AccessFailureLog", "axes.AccessAttempt", "axes.AccessLog",
    "api.IdempotencyKey", "notifications.MessageTemplate", "sla.RecomputeRun",
}  # fmt: skip


def text_fields() -> dict[type[models.Model], list[models.Field]]:
    """Every user-writable text field, by model (introspected)."""
    found = {}
    for model in apps.get_models():
        in_project = model._meta.app_config.path.startswith(str(settings.BASE_DIR))
        if not (in_project or model._meta.label == settings.AUTH_USER_MODEL):
            continue
        if model._meta.label in NOT_WRITTEN_BY_USERS or model._meta.proxy:
            continue
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField)
            and field.editable
            and not field.choices
            and not isinstance(field, models.SlugField)
            and field.name not in NOT_TEXT
        ]
        if fields:
            found[model] = fields
    return found


def fill(round_: int, fields: dict[type[models.Model], list[models.Field]]) -> int:
    """Write payloads into every row of every model: field i of round r gets payload
    (i + r) mod N, or the next one that fits its max_length. Returns the cells written."""
    written = 0
    for model, model_fields in fields.items():
        for pk in model.objects.values_list("pk", flat=True):
            values = {}
            for i, field in enumerate(model_fields):
                for step in range(len(CORPUS)):
                    # The row's key keeps unique fields (names, addresses) unique.
                    payload = f"{CORPUS[(i + round_ + step) % len(CORPUS)]}#{pk}"
                    if field.max_length is None or len(payload) <= field.max_length:
                        values[field.attname] = payload
                        break
            if values:
                model.objects.filter(pk=pk).update(**values)
                written += len(values)
    return written


class _Checker(HTMLParser):
    """Finds what a payload became in markup (not in text, where it is harmless)."""

    URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: str | None = None
        self._script_type = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if "zqx" in name:
                self.found.append(f"<{tag}> got an attribute from a payload: {name}")
            if name.startswith("on") and "zqx" in value:
                self.found.append(f"<{tag} {name}={value!r}>: an injected event handler")
            if name in self.URL_ATTRS and "zqx" in value:
                scheme = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
                if scheme.startswith(("javascript:", "data:", "vbscript:")):
                    self.found.append(f"<{tag} {name}={value!r}>: a script link")
            if tag in {"script", "iframe", "svg", "img"} and "zqx" in value:
                self.found.append(f"<{tag} {name}={value!r}>: an injected element")
        if tag == "script":
            self._script = ""
            self._script_type = dict(attrs).get("type") or ""

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            # Data for scripts (json_script) is escaped JSON; anything else is code.
            if "zqx" in self._script and "json" not in self._script_type:
                self.found.append(f"<script>{self._script[:80]!r}: a payload became code")
            self._script = None


def unsafe_markup(page: str) -> list[str]:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    found = checker.found
    if EVALUATED in page:
        found.append("a template expression from the data was evaluated")
    return found


def unsafe_csv(text: str) -> list[str]:
    """A cell with a payload that a spreadsheet would run as a formula."""
    return [
        f"formula cell {cell[:40]!r}"
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if "zqx" in cell and cell[:1] in ("=", "+", "-", "@", "\t", "\r")
    ]


def unsafe_xlsx(content: bytes) -> list[str]:
    """A worksheet that is not well-formed XML (a payload closed an element), has elements
    inside a cell's text, or holds a formula (`<f>`): the cells are inline text and numbers."""
    found = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if not name.startswith("xl/worksheets/"):
                continue
            try:
                root = ElementTree.fromstring(archive.read(name))  # noqa: S314 - our own output
            except ElementTree.ParseError as exc:
                found.append(f"{name} is not well-formed: {exc}")
                continue
            for element in root.iter():
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "f":
                    found.append(f"{name} holds a formula")
                elif tag in ("t", "v") and len(element):
                    found.append(f"{name}: markup inside a cell ({element[0].tag})")
    return found


def _pages(world) -> list[tuple[str, str]]:
    """(role, url) of the pages and fragments that show the world's data."""
    ref = {"reference": world.ticket.reference}
    slug = {"slug": world.objects["article"].slug}
    incident = {"pk": world.objects["incident"].pk}
    return [
        ("owner", reverse("tickets:detail", kwargs=ref)),
        ("owner", reverse("tickets:list")),
        ("owner", reverse("dashboard:index")),
        *[
            ("owner", reverse("dashboard:fragment", kwargs={"name": n}))
            for n in ("needs", "late", "load")
        ],
        ("owner", reverse("dashboard:actions", kwargs=ref)),
        ("owner", reverse("escalation:list")),
        ("owner", reverse("notifications:list")),
        ("owner", reverse("notifications:bell")),
        ("owner", reverse("incidents:list")),
        ("owner", reverse("incidents:services")),
        ("admin", reverse("incidents:detail", kwargs=incident)),
        ("owner", reverse("knowledge:list")),
        ("owner", reverse("knowledge:article", kwargs=slug)),
        ("owner", reverse("api_tokens")),
        ("admin", reverse("reporting:index")),
        ("owner", reverse("lessons:list")),
        ("owner", reverse("lessons:report", kwargs=ref)),
        ("owner", reverse("lessons:measures")),
        ("admin", reverse("tickets:detail", kwargs=ref)),
        ("admin", reverse("admin:tickets_ticket_changelist")),
        ("admin", reverse("admin:notifications_webhookendpoint_changelist")),
        ("contact", reverse("portal:tickets")),
        ("contact", reverse("portal:detail", kwargs=ref)),
        ("contact", reverse("help:index")),
        ("contact", reverse("help:article", kwargs=slug)),
    ]


EXPORTS = (
    ("admin", "reporting:kpi_csv", {}),
    ("admin", "reporting:table_csv", {"key": "escalations_over_time"}),
    ("admin", "dashboard:trend_csv", {"name": "escalations"}),
)


def test_the_fields_are_found_by_introspection():
    """The control: the fields everybody knows are user text are among those found."""
    found = {f"{m._meta.label}.{f.name}" for m, fs in text_fields().items() for f in fs}
    for known in ("tickets.Ticket.subject", "tickets.Message.body", "tickets.Customer.name",
                  "escalation.Escalation.summary", "knowledge.ArticleTranslation.body",
                  "incidents.MajorIncident.title", "auth.User.first_name"):  # fmt: skip
        assert known in found
    assert "auth.User.password" not in found


def test_no_payload_comes_out_as_markup():
    world = build_world()
    fields = text_fields()
    pages = _pages(world)
    problems: list[str] = []
    for round_ in range(len(CORPUS)):
        assert fill(round_, fields) > 50
        sign_in_contact_again(world)
        for role, url in pages:
            response = world.clients[role].get(url)
            where = f"round {round_}: {url} as {role}"
            if response.status_code >= 400:
                problems.append(f"{where}: {response.status_code}")
                continue
            page = response.content.decode()
            problems += [f"{where}: {p}" for p in unsafe_markup(page)]
        for role, name, kwargs in EXPORTS:
            response = world.clients[role].get(reverse(name, kwargs=kwargs))
            text = b"".join(response.streaming_content) if response.streaming else response.content
            problems += [f"round {round_}: {name}: {p}" for p in unsafe_csv(text.decode())]
        workbook = world.clients["admin"].get(reverse("reporting:xlsx"))
        problems += [f"round {round_}: reporting:xlsx: {p}" for p in unsafe_xlsx(workbook.content)]
    # The control: the payloads reached the pages as text.
    detail = world.clients["owner"].get(
        reverse("tickets:detail", kwargs={"reference": world.ticket.reference})
    )
    assert "zqx" in detail.content.decode()
    assert not problems, "\n".join(sorted(set(problems)))


def sign_in_contact_again(world) -> None:
    """The contact's session check covers its address, which got a payload too."""
    contact = type(world.objects["contact"]).objects.get(pk=world.objects["contact"].pk)
    session = world.clients["contact"].session
    session[CHECK_KEY] = contact_check(contact)
    session.save()


@pytest.mark.parametrize("payload", CORPUS)
def test_the_checker_finds_each_payload_unescaped(payload):
    """The control of the checker: each payload, put into a page unescaped (as a template
    with `|safe` or a `mark_safe` would), is found."""
    page = f'<div title="{payload}">{payload}</div><a href="{payload}">x</a>'
    # What a Markdown renderer without a scheme filter makes of a link.
    page = re.sub(r"\[([^]]*)\]\(([^)]*\))\)", r'<a href="\2">\1</a>', page)
    if payload.startswith("="):
        assert unsafe_csv(f"{payload}\n")
        assert unsafe_xlsx(_workbook(f"<c><f>{payload[1:]}</f></c>"))
    elif "{{" in payload:
        assert unsafe_markup(page.replace("{{ 'zqx11'|upper }}", EVALUATED))
    else:
        assert unsafe_markup(page), payload
        if "<" in payload:
            assert unsafe_xlsx(_workbook(f"<c><is><t>{payload}</t></is></c>")), payload


def _workbook(cell: str) -> bytes:
    """An XLSX with one sheet holding `cell` as written (not escaped)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData><row>{cell}</row></sheetData></worksheet>",
        )
    return buffer.getvalue()
