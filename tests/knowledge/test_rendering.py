"""Article bodies are Markdown rendered and sanitised: nothing an author types may run script
on the public pages."""

from __future__ import annotations

import pytest

from knowledge.rendering import plain_text, render_markdown, safe_url

# (Markdown or raw HTML in an article, text that must not survive)
ATTACKS = [
    ("<script>alert(1)</script>ok", "<script"),
    ("<script>alert(1)</script>ok", "alert(1)"),
    ('<img src="x.png" onerror="alert(1)">', "onerror"),
    ('<a href="/" onclick="alert(1)">x</a>', "onclick"),
    ('<p onmouseover="alert(1)">x</p>', "onmouseover"),
    ("[x](javascript:alert(1))", "javascript"),
    ("[x](JaVaScRiPt:alert(1))", "alert"),
    ('<a href="javascript:alert(1)">x</a>', "javascript"),
    ('<a href="&#106;avascript:alert(1)">x</a>', "alert"),
    ('<a href="&#x6A;&#x61;vascript&colon;alert(1)">x</a>', "alert"),
    ('<a href="java&#x09;script:alert(1)">x</a>', "alert"),
    ('<a href="java\tscript:alert(1)">x</a>', "alert"),
    ('<a href="java\nscript:alert(1)">x</a>', "alert"),
    ('<a href=" \x01javascript:alert(1)">x</a>', "alert"),
    ("[x](&#106;avascript:alert(1))", "alert"),
    ("[x](vbscript:msgbox(1))", "vbscript"),
    ("![pixel](data:image/png;base64,iVBORw0KGgo=)", "data:"),
    ("[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data:"),
    ('<a href="data&colon;text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>', "data"),
    ('<svg onload="alert(1)"><circle r="1"/></svg>', "svg"),
    ("<svg><script>alert(1)</script></svg>", "alert"),
    ('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', "javascript"),
    ('<math><mtext><img src=x onerror="alert(1)"></mtext></math>', "onerror"),
    ('<iframe src="https://evil.example"></iframe>', "iframe"),
    ('<object data="x.swf"></object>', "object"),
    ("<style>body{display:none}</style>", "display"),
    ('<div style="background:url(javascript:alert(1))">x</div>', "style"),
    ('<form action="https://evil.example"><input name="p"></form>', "form"),
    ('<a href="\\\\evil.example">x</a>', "evil"),
    ("<!-- <script>alert(1)</script> -->", "alert"),
    ('<img src="x" srcset="javascript:alert(1)">', "srcset"),
    ('<base href="https://evil.example/">', "base"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "refresh"),
]


@pytest.mark.parametrize(("source", "forbidden"), ATTACKS)
def test_dangerous_markup_does_not_survive(source, forbidden):
    assert forbidden.lower() not in render_markdown(source).lower()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("**bold** and *soft*", "<strong>bold</strong> and <em>soft</em>"),
        (
            "[Help](https://example.com/help)",
            '<a href="https://example.com/help" rel="noopener noreferrer nofollow">Help</a>',
        ),
        ("[mail](mailto:help@example.com)", 'href="mailto:help@example.com"'),
        ("[relative](/help/password-reset/)", 'href="/help/password-reset/"'),
        ("![Screen](/static/img/favicon.svg)", 'src="/static/img/favicon.svg"'),
        ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "<td>1</td>"),
        ("`code`", "<code>code</code>"),
        ("Tom & Jerry < 3", "Tom &amp; Jerry &lt; 3"),
    ],
)
def test_ordinary_markdown_renders(source, expected):
    assert expected in render_markdown(source)


def test_a_stripped_link_keeps_its_text():
    assert render_markdown("[Click here](javascript:alert(1))") == (
        '<p><a rel="noopener noreferrer nofollow">Click here</a></p>'
    )


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.com", True),
        ("/help/", True),
        ("#top", True),
        ("mailto:a@example.com", True),
        ("javascript:alert(1)", False),
        ("  javascript:alert(1)", False),
        ("&#106;avascript:alert(1)", False),
        ("java\u200bscript:alert(1)", False),
        ("data:text/html,x", False),
        ("file:///etc/passwd", False),
    ],
)
def test_safe_url(url, kept):
    assert (safe_url(url) is not None) is kept


def test_plain_text_drops_markup_and_cuts_at_a_word():
    text = "**Reset** your <b>password</b> " + "word " * 100
    summary = plain_text(text, limit=30)
    assert summary.startswith("Reset your password word")
    assert summary.endswith("…")
    assert "<" not in summary and "*" not in summary
    assert len(summary) <= 31
