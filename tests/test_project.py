"""Project-level guarantees: migrations match the models, production settings are secure,
the German translation is complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted((ROOT / "locale" / "de" / "LC_MESSAGES").glob("*.po"))


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_deploy_check_is_quiet_in_production_settings():
    env = {
        # The browser suite allows async-unsafe ORM calls for its live server; production
        # never does, and the deploy check rightly refuses it.
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "false",
        "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-with-entropy-1234",
        "ALLOWED_HOSTS": "helpdesk.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DEBUG"] = "false"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _entries(po: Path) -> list[tuple[str, list[str], bool]]:
    """(msgid, msgstr forms, fuzzy) for every live entry of a .po file."""
    entries: list[tuple[str, list[str], bool]] = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines or any(line.startswith("#~") for line in lines):
            continue  # obsolete entries do not ship
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        msgid: list[str] = []
        forms: list[str] = []
        target: list[str] | None = None
        for line in lines:
            if line.startswith("msgid "):
                target = msgid
                msgid.append(line[6:].strip('"'))
            elif line.startswith("msgid_plural"):
                target = None
            elif line.startswith("msgstr"):
                forms.append(line.split(" ", 1)[1].strip('"'))
                target = forms
            elif line.startswith('"') and target is not None:
                target[-1] += line.strip('"')
        if msgid:
            entries.append(("".join(msgid), forms, fuzzy))
    return entries


def test_german_catalogues_exist_and_are_compiled():
    assert CATALOGUES, "locale/de/LC_MESSAGES/django.po is missing: run `make messages`"
    for po in CATALOGUES:
        assert po.with_suffix(".mo").exists(), f"{po.name} is not compiled: run `make messages`"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.name)
def test_german_translation_is_complete(po):
    problems = [
        f"{'fuzzy' if fuzzy else 'empty'}: {msgid!r}"
        for msgid, forms, fuzzy in _entries(po)
        if msgid and (fuzzy or not all(forms))
    ]
    assert not problems, f"{len(problems)} German entries need work:\n" + "\n".join(problems[:50])


def test_the_demo_port_is_a_setting():
    """`PORT=8001 make run`: honcho gives the first process (web) the port it is started with,
    and the web line binds to it, so the demo can run beside something on 8000."""
    procfile = (ROOT / "Procfile").read_text().splitlines()
    assert procfile[0].startswith("web:") and "127.0.0.1:$PORT" in procfile[0]
    makefile = (ROOT / "Makefile").read_text()
    assert "PORT ?= 8000" in makefile
    assert "honcho start -f Procfile -p $(PORT)" in makefile


def test_the_production_static_build_succeeds(tmp_path):
    """The image runs `collectstatic` with the manifest storage (DEBUG off), which refuses a
    vendored file that names a missing one (a source map, say): the build would fail, and only
    there (`make run` uses the plain storage). The chaos run found it."""
    env = {
        **os.environ,
        "DEMO": "false",
        "DEBUG": "false",
        "SECRET_KEY": "build-only-" + "k" * 50,
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()
