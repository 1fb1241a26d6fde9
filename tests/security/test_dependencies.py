"""Dependencies: the set that is installed is the set that was reviewed.

Every requirement in pyproject.toml (runtime and dev) is pinned to one version (`==`), so a
vulnerability scan of the pins (`pip-audit -r`, see docs/security.md) is a scan of what runs,
and an install cannot pick up a release nobody looked at. The installed versions are the
pinned ones (a stale virtualenv fails here, not in production).

`make audit` runs pip-audit over those pins; it needs the vulnerability database online, so
it is not run here. What is checked here: the reviewed allowlist's entries are well-formed
and reach pip-audit as `--ignore-vuln`, and the audit is strict (a pin it could not look up
fails the audit instead of passing unaudited).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from django.conf import settings

PYPROJECT = Path(settings.BASE_DIR) / "pyproject.toml"
ALLOWLIST = Path(settings.BASE_DIR) / "deploy" / "audit-allowlist.txt"
# An advisory id, the package, and why it does not apply with who reviewed it when.
_ENTRY = re.compile(
    r"^(?P<id>(PYSEC|GHSA|CVE|OSV)-[\w-]+)\s+(?P<package>[A-Za-z0-9_.-]+)\s+"
    r"(?P<why>\S.*\(.+, \d{4}-\d{2}-\d{2}\))$"
)
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]+\])?==([^\s;,]+)$")


def _requirements() -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    return [*project["dependencies"], *(r for group in optional.values() for r in group)]


def test_every_requirement_is_pinned_to_one_version():
    loose = [r for r in _requirements() if not _PIN.match(r.strip())]
    assert not loose, f"requirements without an exact pin: {loose}"


def test_the_installed_versions_are_the_pinned_ones():
    wrong = []
    for requirement in _requirements():
        name, _extras, pinned = _PIN.match(requirement.strip()).groups()
        try:
            installed = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed")
            continue
        if installed != pinned:
            wrong.append(f"{name}: {installed} installed, {pinned} pinned")
    assert not wrong, "\n".join(wrong)


def _allowlist_entries(text: str) -> list[str]:
    return [
        line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()
    ]


def test_every_allowlisted_finding_names_a_pinned_package_and_a_dated_review():
    pinned = {_PIN.match(r.strip()).group(1).lower() for r in _requirements()}
    bad = []
    for entry in _allowlist_entries(ALLOWLIST.read_text()):
        match = _ENTRY.match(entry)
        if match is None:
            bad.append(f"not 'ID package why (who, YYYY-MM-DD)': {entry!r}")
        elif match["package"].lower() not in pinned:
            bad.append(f"{match['id']}: {match['package']} is not a pinned requirement")
    assert not bad, "\n".join(bad)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_audit_is_strict_and_passes_the_allowlist_to_pip_audit(tmp_path):
    allowlist = tmp_path / "allow.txt"
    allowlist.write_text(
        "# reviewed\nGHSA-aaaa-bbbb-cccc  django  only the CLI is affected (sec, 2026-12-07)\n"
    )
    assert _allowlist_entries(allowlist.read_text()) == [
        "GHSA-aaaa-bbbb-cccc  django  only the CLI is affected (sec, 2026-12-07)"
    ]
    assert _ENTRY.match(_allowlist_entries(allowlist.read_text())[0])
    dry = subprocess.run(
        # --no-print-directory: under `make test` this make is a sub-make, which would print
        # "Leaving directory" after the recipe.
        ["make", "--no-print-directory", "-n", "-o", "install", "audit",
         f"AUDIT_ALLOWLIST={allowlist}"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    command = dry.stdout.splitlines()[-1]
    assert "--strict" in dry.stdout
    # The recipe's last line expands the allowlist; run that expansion as the shell would.
    expanded = subprocess.run(
        ["sh", "-c", "echo " + command.strip()], capture_output=True, text=True, check=True
    ).stdout
    assert "--ignore-vuln GHSA-aaaa-bbbb-cccc" in expanded
    assert "reviewed" not in expanded and "django" not in expanded
