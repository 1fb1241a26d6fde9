"""A small XLSX writer: sheets of rows of text and numbers, nothing else (no styles, no
formulas). The format is a zip of a few XML parts (ECMA-376); writing them directly keeps the
reports free of a spreadsheet library for the one thing they need.

Text cells are written as inline strings, never as formulas, and pass through
`reporting.exports.neutralise` like the CSV's, so a cell that a user copies into a formula bar
does not run either.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from reporting.exports import neutralise

SHEET_NAME_MAX = 31
# Characters XML 1.0 does not allow (control characters but tab, newline, carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    "<sheets>{sheets}</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    "{rels}</Relationships>"
)
_SHEET_REL = (
    '<Relationship Id="rId{n}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet{n}.xml"/>'
)
_WORKSHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData>{rows}</sheetData></worksheet>"
)


def column_name(index: int) -> str:
    """The spreadsheet's name of the 0-based column `index`: A … Z, AA …"""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name from `title` (at most 31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip() or "Sheet"
    name, n = base[:SHEET_NAME_MAX], 1
    while name.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f" ({n})"
        name = base[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(name)
    return name


def quoteattr_free(text: str) -> str:
    """`text` escaped for a double-quoted XML attribute."""
    return escape(text, {'"': "&quot;"})


def _cell(ref: str, value: object) -> str:
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if value is None or value == "":
        return ""
    text = escape(_NOT_XML.sub("", neutralise(value)))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _worksheet(rows: Iterable[Sequence[object]]) -> str:
    lines = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(_cell(f"{column_name(c)}{r}", value) for c, value in enumerate(row))
        lines.append(f'<row r="{r}">{cells}</row>')
    return _WORKSHEET.format(rows="".join(lines))


def workbook(sheets: Sequence[tuple[str, Iterable[Sequence[object]]]]) -> bytes:
    """The XLSX file of `sheets`: (title, rows) pairs, in order; rows of text and numbers."""
    taken: set[str] = set()
    names = [sheet_name(title, taken) for title, _ in sheets]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        count = range(1, len(sheets) + 1)
        archive.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(n=n) for n in count)),
        )
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr(
            "xl/workbook.xml",
            _WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{quoteattr_free(name)}" sheetId="{n}" r:id="rId{n}"/>'
                    for n, name in zip(count, names, strict=True)
                )
            ),
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            _WORKBOOK_RELS.format(rels="".join(_SHEET_REL.format(n=n) for n in count)),
        )
        for n, (_, rows) in zip(count, sheets, strict=True):
            archive.writestr(f"xl/worksheets/sheet{n}.xml", _worksheet(rows))
    return buffer.getvalue()
