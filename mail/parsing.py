"""Reading a raw email: its addresses, threading headers, text, attachments, and whether a
machine sent it. Pure: bytes in, plain data out, no database.

HTML is never trusted: the text we keep is derived from it with every tag removed, and the
HTML shown to agents is cleaned by nh3 with images left out, so nothing remote is loaded.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3
from mailparser_reply import EmailReplyParser

# --- Automatic mail ----------------------------------------------------------------------------

AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
LIST = "list"

_BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "postmaster"})


def classify(msg: EmailMessage, sender: str) -> tuple[str, str] | None:
    """(kind, the header that shows it) when a machine sent `msg`: an auto-reply or
    out-of-office (RFC 3834 `Auto-Submitted`, `X-Autoreply`, `X-Autorespond`, Microsoft's
    `X-Auto-Response-Suppress` is a request, not a mark), a bounce (a delivery status
    report, a MAILER-DAEMON sender, an empty return path), list or bulk mail (`List-Id`,
    `Precedence: bulk/list/junk`). None for a person's mail. Such mail never opens a ticket
    and never gets an answer: that is what stops two desks from mailing each other forever.
    """
    ctype = msg.get_content_type()
    if ctype == "multipart/report":
        report = (msg.get_param("report-type") or "").lower()
        if report == "delivery-status":
            return BOUNCE, "Content-Type"
        return AUTO_REPLY, "Content-Type"  # read receipts (disposition-notification) and kin
    local = sender.rsplit("@", 1)[0].lower() if sender else ""
    if local in _BOUNCE_LOCALPARTS:
        return BOUNCE, "From"
    if (msg.get("Return-Path") or "").strip() == "<>":
        return BOUNCE, "Return-Path"
    auto = (msg.get("Auto-Submitted") or "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return AUTO_REPLY, "Auto-Submitted"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if msg.get(header) is not None:
            return AUTO_REPLY, header
    precedence = (msg.get("Precedence") or "").strip().lower()
    if precedence in {"bulk", "list", "junk"}:
        return LIST, "Precedence"
    if precedence == "auto_reply":
        return AUTO_REPLY, "Precedence"
    if msg.get("List-Id") is not None or msg.get("List-Unsubscribe") is not None:
        return LIST, "List-Id" if msg.get("List-Id") is not None else "List-Unsubscribe"
    return None


# --- Threading ---------------------------------------------------------------------------------

_MSGID = re.compile(r"<[^<>\s]+>")


def message_ids(value: str | None) -> list[str]:
    """The `<id@host>` tokens of an In-Reply-To or References header, in order."""
    return _MSGID.findall(value or "")


def reference_pattern(prefix: str) -> re.Pattern[str]:
    """A ticket reference in square brackets in a subject, e.g. `[HD-2026-000123]`."""
    return re.compile(r"\[\s*(" + re.escape(prefix) + r"-\d{4}-\d{6})\s*\]", re.IGNORECASE)


def subject_references(subject: str, prefix: str) -> list[str]:
    """The ticket references in `subject`, upper-cased, in order."""
    return [m.upper() for m in reference_pattern(prefix).findall(subject or "")]


# --- Text --------------------------------------------------------------------------------------

_BLOCK_END = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>")
_BLANKS = re.compile(r"\n{3,}")
_SEPARATOR = re.compile(
    r"(?im)^\s*-{2,}\s*(original message|ursprüngliche nachricht|forwarded message|"
    r"weitergeleitete nachricht)\s*-{2,}\s*$"
)
_INVISIBLE = {"script", "style", "title", "head"}
_REPLY_PARSER = EmailReplyParser(languages=["de", "en"])

# What agents may see of a customer's HTML: structure and links, no images (nothing remote
# is loaded), no styles, no scripts.
SAFE_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "span",
        "strong",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)


def sanitise_html(value: str) -> str:
    """Customer HTML made safe to show: nh3 with `SAFE_TAGS`, no attributes but a link's
    target (with rel=noopener noreferrer nofollow), only http(s) and mailto links."""
    return nh3.clean(
        value,
        tags=set(SAFE_TAGS),
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        clean_content_tags=_INVISIBLE,
    )


def html_to_text(value: str) -> str:
    """The text of an HTML part: line breaks where blocks end, every tag removed."""
    marked = _BLOCK_END.sub("\n", value)
    stripped = nh3.clean(
        marked, tags=set(), clean_content_tags={"script", "style", "title", "head"}
    )
    text = html_lib.unescape(stripped)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def strip_quotes(text: str) -> str:
    """The new part of a reply: quoted history ("Am … schrieb …", "On … wrote:",
    "-----Ursprüngliche Nachricht-----", Outlook's "Von:/Gesendet:" block, "> " lines) and
    the signature removed (mail-parser-reply, German and English). The whole text when
    nothing new would be left."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        reply = _REPLY_PARSER.read(text=text).replies[0].body
    except (IndexError, ValueError, AttributeError):
        reply = text
    # The library keeps a separator line that ends the new part; cut there.
    match = _SEPARATOR.search(reply)
    if match:
        reply = reply[: match.start()]
    reply = reply.strip()
    return reply or text


# --- The message -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    sender: str  # lower-cased address
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str  # the whole text (from text/plain, or derived from the HTML)
    html: str  # sanitised, "" when there was none
    language: str  # "de"/"en"/... from Content-Language, else ""
    automatic: tuple[str, str] | None  # (kind, header) from `classify`
    attachments: tuple[Attachment, ...] = field(default=())

    @property
    def reply(self) -> str:
        """The new part of the text, for the timeline."""
        return strip_quotes(self.text)


def hashed_message_id(raw: bytes) -> str:
    """The id of a message that came without a Message-ID: a hash of its bytes, so the same
    message fetched twice still has the same id."""
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"


def _addresses(values: list[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for _name, addr in getaddresses(values):
        addr = addr.strip().lower()
        if "@" in addr and addr not in seen:
            seen.append(addr)
    return tuple(seen)


def _decode(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (IndexError, ValueError, TypeError):  # a malformed header: treat it as absent
        return ""
    return str(value or "")


def parse(raw: bytes) -> ParsedMail:
    """Read `raw` (RFC 5322 bytes). Never raises for a malformed message: what cannot be
    read is left empty."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    message_id = (message_ids(_header(msg, "Message-ID")) or [hashed_message_id(raw)])[0][:255]
    name, sender = parseaddr(_header(msg, "From"))
    sender = sender.strip().lower()
    if "@" not in sender:
        sender = ""
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    if msg.get_content_type() != "multipart/report":
        for part in msg.walk():
            if part.is_multipart():
                continue
            disposition = part.get_content_disposition()
            ctype = part.get_content_type()
            is_text = ctype in ("text/plain", "text/html")
            if disposition == "attachment" or not is_text:
                data = part.get_payload(decode=True) or b""
                if isinstance(data, bytes) and data:
                    attachments.append(
                        Attachment(
                            name=(part.get_filename() or "attachment")[:200],
                            content_type=ctype[:100],
                            data=data,
                        )
                    )
            elif ctype == "text/plain":
                text_parts.append(_decode(part))
            elif ctype == "text/html":
                html_parts.append(_decode(part))
    html = "\n".join(html_parts)
    text = "\n\n".join(t.strip() for t in text_parts if t.strip())
    if not text and html:
        text = html_to_text(html)
    language = _header(msg, "Content-Language").split(",")[0].strip().lower()[:2]
    return ParsedMail(
        message_id=message_id,
        sender=sender,
        sender_name=str(Address(display_name=name).display_name if name else "")[:200],
        to=_addresses([_header(msg, "To")]),
        cc=_addresses([_header(msg, "Cc")]),
        subject=" ".join(_header(msg, "Subject").split())[:255],
        in_reply_to=tuple(message_ids(_header(msg, "In-Reply-To"))),
        references=tuple(message_ids(_header(msg, "References"))),
        text=text.replace("\r\n", "\n"),
        html=sanitise_html(html) if html else "",
        language=language,
        automatic=classify(msg, sender),
        attachments=tuple(attachments),
    )
