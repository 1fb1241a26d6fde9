"""Dependencies: the set that is installed is the set that was reviewed.

Every requirement in pyproject.toml (runtime and dev) is pinned to one version (`==`), so a
vulnerability scan of the pins (`pip-audit -r`, see docs/security.md) is a scan of what runs,
and an install cannot pick up a release nobody looked at. The installed versions are the
pinned ones (a stale virtualenv fails here, not in production).
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from django.conf import settings

PYPROJECT = Path(settings.BASE_DIR) / "pyproject.toml"
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
