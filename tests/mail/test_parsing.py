"""The pure parts: what marks a machine's mail, quoting in German and English, HTML made
safe, threading headers and subject references."""

from __future__ import annotations

import pytest

from mail.parsing import (
    hashed_message_id,
    html_to_text,
    message_ids,
    parse,
    sanitise_html,
    strip_quotes,
    subject_references,
)
from tests.mail.conftest import build_mail


@pytest.mark.parametrize(
    ("headers", "sender", "expected"),
    [
        ({"Auto-Submitted": "auto-replied"}, "max@kunde.example", ("auto_reply", "Auto-Submitted")),
        (
            {"Auto-Submitted": "auto-generated"},
            "max@kunde.example",
            ("auto_reply", "Auto-Submitted"),
        ),
        ({"X-Autoreply": "yes"}, "max@kunde.example", ("auto_reply", "X-Autoreply")),
        ({"X-Autorespond": "Out of office"}, "max@kunde.example", ("auto_reply", "X-Autorespond")),
        ({"Precedence": "bulk"}, "max@kunde.example", ("list", "Precedence")),
        ({"Precedence": "junk"}, "max@kunde.example", ("list", "Precedence")),
        ({"Precedence": "list"}, "max@kunde.example", ("list", "Precedence")),
        ({"List-Id": "<news.kunde.example>"}, "max@kunde.example", ("list", "List-Id")),
        ({}, "MAILER-DAEMON@mx.kunde.example", ("bounce", "From")),
        ({}, "postmaster@kunde.example", ("bounce", "From")),
        ({"Return-Path": "<>"}, "max@kunde.example", ("bounce", "Return-Path")),
        # A person's mail, even when it says so explicitly.
        ({"Auto-Submitted": "no"}, "max@kunde.example", None),
        ({"Precedence": "first-class"}, "max@kunde.example", None),
        ({}, "max@kunde.example", None),
    ],
)
def test_automatic_mail_is_recognised(headers, sender, expected):
    parsed = parse(build_mail(sender=sender, headers=headers))
    assert parsed.automatic == expected


def test_delivery_status_report_is_a_bounce():
    raw = (
        b"From: Mail Delivery System <mailer@mx.kunde.example>\r\n"
        b"To: support@desk.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn1@mx.kunde.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@kunde.example\r\nAction: failed\r\n"
        b"--B--\r\n"
    )
    assert parse(raw).automatic == ("bounce", "Content-Type")


def test_read_receipt_is_automatic():
    raw = (
        b"From: max@kunde.example\r\nTo: support@desk.example\r\nSubject: Gelesen\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="B"'
        b"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nGelesen.\r\n--B--\r\n"
    )
    assert parse(raw).automatic == ("auto_reply", "Content-Type")


GERMAN_REPLY = """Danke, nach dem Neustart geht es wieder.

Viele Grüße
Max Kunde

Am 07.12.2026 um 09:12 schrieb Support <support@desk.example>:
> Bitte starten Sie den Drucker neu.
> Ihr Support-Team
"""

OUTLOOK_REPLY = """Leider nicht, der Fehler ist zurück.

-----Ursprüngliche Nachricht-----
Von: Support <support@desk.example>
Gesendet: Montag, 7. Dezember 2026 09:12
An: Max Kunde <max@kunde.example>
Betreff: [HD-2026-000001] Drucker

Bitte starten Sie den Drucker neu.
"""

ENGLISH_REPLY = """It works again, thanks.

On Mon, Dec 7, 2026 at 9:12 AM Support <support@desk.example> wrote:
> Please restart the printer.
"""

ENGLISH_OUTLOOK = """Still broken.

-----Original Message-----
From: Support <support@desk.example>
Sent: Monday, December 7, 2026 9:12 AM
Subject: Printer

Please restart the printer.
"""


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (GERMAN_REPLY, "nach dem Neustart geht es wieder", ["schrieb", "Bitte starten"]),
        (OUTLOOK_REPLY, "der Fehler ist zurück", ["Ursprüngliche", "Gesendet", "Bitte starten"]),
        (ENGLISH_REPLY, "It works again", ["wrote:", "Please restart"]),
        (ENGLISH_OUTLOOK, "Still broken", ["Original Message", "Please restart"]),
        ("Thanks!\n\n-- \nJane Doe\nACME Corp\n", "Thanks!", ["ACME Corp"]),
    ],
)
def test_quotes_and_signatures_are_stripped(text, kept, gone):
    reply = strip_quotes(text)
    assert kept in reply
    for word in gone:
        assert word not in reply


def test_nothing_new_keeps_the_whole_text():
    assert strip_quotes("> only a quote\n") == "> only a quote"
    assert strip_quotes("Just a message.\nTwo lines.") == "Just a message.\nTwo lines."


def test_html_is_sanitised_and_loads_nothing_remote():
    dirty = (
        '<p onclick="x()">Hi <img src="https://tracker.example/p.gif">'
        '<a href="javascript:alert(1)">bad</a> <a href="https://ok.example/">ok</a></p>'
        "<script>alert(1)</script><style>p{}</style>"
        '<iframe src="https://evil.example/"></iframe>'
    )
    clean = sanitise_html(dirty)
    assert "<img" not in clean and "tracker.example" not in clean
    assert "script" not in clean and "alert" not in clean and "onclick" not in clean
    assert "iframe" not in clean and "javascript:" not in clean
    assert 'href="https://ok.example/"' in clean and "noopener" in clean


def test_html_only_mail_becomes_text():
    assert html_to_text("<div>Line one<br>Line&nbsp;two &amp; more</div><p>Para</p>") == (
        "Line one\nLine\xa0two & more\nPara"
    )
    raw = (
        b"From: max@kunde.example\r\nTo: support@desk.example\r\nSubject: HTML\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hallo<br>Welt</p><img src='https://tracker.example/x.gif'>"
    )
    parsed = parse(raw)
    assert parsed.text == "Hallo\nWelt"
    assert "<img" not in parsed.html


def test_message_without_id_gets_a_stable_hashed_one():
    raw = b"From: max@kunde.example\r\nTo: support@desk.example\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse(raw).message_id == parse(raw).message_id == hashed_message_id(raw)
    assert parse(raw + b"more").message_id != parse(raw).message_id


def test_threading_headers_and_subject_references():
    raw = build_mail(
        subject="AW: [hd-2026-000123] Drucker [HD-2026-000124]",
        in_reply_to="<a@desk.example>",
        references="<root@kunde.example> <a@desk.example>",
    )
    parsed = parse(raw)
    assert parsed.in_reply_to == ("<a@desk.example>",)
    assert parsed.references == ("<root@kunde.example>", "<a@desk.example>")
    assert subject_references(parsed.subject, "HD") == ["HD-2026-000123", "HD-2026-000124"]
    assert subject_references("HD-2026-000123 without brackets", "HD") == []
    assert message_ids("garbage <x@y> more <z@w>") == ["<x@y>", "<z@w>"]


def test_addresses_attachments_and_language():
    raw = build_mail(
        sender='"Kunde, Max" <Max@Kunde.Example>',
        cc="Eva <eva@kunde.example>, support@desk.example",
        headers={"Content-Language": "de-DE"},
        attachments=[("log.txt", "text/plain", b"error 42"), ("pic.png", "image/png", b"\x89PNG")],
    )
    parsed = parse(raw)
    assert parsed.sender == "max@kunde.example"
    assert parsed.sender_name == "Kunde, Max"
    assert parsed.cc == ("eva@kunde.example", "support@desk.example")
    assert parsed.language == "de"
    assert [(a.name, a.data) for a in parsed.attachments] == [
        ("log.txt", b"error 42"),
        ("pic.png", b"\x89PNG"),
    ]
    assert "log.txt" not in parsed.text and "error 42" not in parsed.text


def test_garbage_does_not_raise():
    parsed = parse(b"\x00\xff not an email at all")
    assert parsed.sender == ""
    assert parsed.message_id.startswith("<sha256-")
