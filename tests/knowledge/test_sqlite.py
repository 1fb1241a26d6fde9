"""The SQLite demo: migrations apply without PostgreSQL's index, and the search falls back to
matching substrings — run for real on a fresh SQLite file in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
from django.contrib.auth.models import User
from django.db import connection
from knowledge import selectors
from knowledge.models import Article, Audience
from tests.knowledge.articles import make_article

owner = User.objects.create(username="owner")
make_article("rechnungen", owner=owner, de=("Rechnungen verstehen", "Alle Rechnungen als PDF."))
make_article("intern", owner=owner, visibility=Article.Visibility.INTERNAL,
             de=("Rechnung intern", "Gutschrift"))
make_article("entwurf", owner=owner, status=Article.Status.DRAFT, de=("Rechnung Entwurf", "x"))
make_article("login", owner=owner, en=("Sign-in problems", "Reset the password."))
result = {
    "vendor": connection.vendor,
    "public": [h.article.slug for h in selectors.search("Rechnung", language="de",
                                                         audience=Audience.PUBLIC)],
    "agents": sorted(h.article.slug for h in selectors.search("rechnung", language="de",
                                                              audience=Audience.AGENTS)),
    "any": sorted(h.article.slug for h in selectors.search("PDF password", language="en",
                                                           audience=Audience.PUBLIC,
                                                           any_word=True)),
}
print("RESULT" + json.dumps(result))
"""


def test_search_falls_back_to_substrings_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DEMO": "true",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    manage("migrate", "--no-input", "-v", "0")
    output = manage("shell", "--no-imports", "-c", SCRIPT)
    result = json.loads(output.split("RESULT", 1)[1])
    assert result == {
        "vendor": "sqlite",
        "public": ["rechnungen"],
        "agents": ["intern", "rechnungen"],
        "any": ["login", "rechnungen"],
    }
