"""Input robustness of the HTML forms: every form the pages offer, sent with oversized,
wrong-typed, NUL-containing, malformed-UTF-8, out-of-range and stale input, is answered with
a refusal or the form again, never a 500.

The forms are found, not listed: every GET page of the URL configuration is fetched as a
role that may use it, every `<form method="post">` in it is parsed (its action and its
fields, hidden ones with their values), and each is sent once per kind of bad input, as a
role that may post to its action (`routes.EXPECTED`). A new form on any page is covered. The
API has its own generated fuzzing (schemathesis, `tests/api/test_fuzz.py`).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.security.forms import found_forms, poster
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

OVERSIZED = "x" * 200_000
KINDS = {
    "oversized": lambda name, value: OVERSIZED,
    "wrong type": lambda name, value: "not-a-number-[]{}",
    "NUL": lambda name, value: f"a\x00b{value}",
    "out of range": lambda name, value: "-99999999999999999999999",
    "stale": lambda name, value: "0" if name in ("version", "expected_version") else value,
}


def test_every_form_survives_bad_input():
    world = build_world()
    forms = found_forms(world)
    assert len(forms) >= 15, f"too few forms found ({sorted(forms)}): did the crawl break?"
    problems: list[str] = []
    for path, fields in sorted(forms.items()):
        role = poster(path)
        if role is None:
            continue
        client = world.clients[role]
        for kind, bad in KINDS.items():
            data = {
                name: value if name == "csrfmiddlewaretoken" else bad(name, value)
                for name, value in fields.items()
            }
            problems += _post(client, path, data, f"{kind} as {role}")
        # Malformed UTF-8: bytes no decoder accepts, as a browser never sends them.
        raw = "&".join(f"{quote(n)}=%FF%FE%C0%AF" for n in fields if n != "csrfmiddlewaretoken")
        problems += _post(client, path, raw, f"malformed UTF-8 as {role}")
    assert not problems, "\n".join(problems)


def _post(client, path: str, data, what: str) -> list[str]:
    try:
        if isinstance(data, str):
            response = client.generic(
                "POST", path, data, content_type="application/x-www-form-urlencoded"
            )
        else:
            response = client.post(path, data)
    except Exception as exc:  # the 500 a user would get, reported with its cause
        return [f"POST {path} ({what}): {type(exc).__name__}: {str(exc)[:200]}"]
    if response.status_code >= 500:
        return [f"POST {path} ({what}): {response.status_code}"]
    return []
