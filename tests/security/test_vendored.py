"""Vendored assets are what was reviewed: every file under static/vendor/ is listed in
static/vendor/CHECKSUMS with its SHA-256, and matches it. A file swapped, edited or added
without a reviewed checksum fails here (the browser runs these scripts with the site's
rights; there is no CDN and no package-lock integrity check in between)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from django.conf import settings

VENDOR = Path(settings.BASE_DIR) / "static" / "vendor"
# Files about the folder itself, not shipped to browsers.
NOT_LISTED = {"CHECKSUMS", "README.md"}


def _listed() -> dict[str, str]:
    listed = {}
    for line in (VENDOR / "CHECKSUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            listed[name.strip()] = digest
    return listed


def test_every_vendored_file_is_listed_and_matches_its_checksum():
    listed = _listed()
    present = {
        str(path.relative_to(VENDOR))
        for path in VENDOR.rglob("*")
        if path.is_file() and path.name not in NOT_LISTED
    }
    assert present - set(listed) == set(), "vendored files without a reviewed checksum"
    assert set(listed) - present == set(), "checksums of files that are gone"
    wrong = [
        name
        for name, digest in listed.items()
        if hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() != digest
    ]
    assert not wrong, f"vendored files that differ from their reviewed checksum: {wrong}"


def test_every_vendored_asset_a_template_loads_is_checked():
    """What the templates load from static/vendor/ (found in them, not listed here) is
    among the checked files."""
    loaded = set()
    for template in (Path(settings.BASE_DIR) / "templates").rglob("*.html"):
        loaded |= set(re.findall(r"static ['\"]vendor/([^'\"]+)['\"]", template.read_text()))
    assert "htmx/htmx.min.js" in loaded, "the template scan found nothing: did the syntax change?"
    assert loaded - set(_listed()) == set()
