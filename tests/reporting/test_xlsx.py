"""The small XLSX writer: a workbook a spreadsheet opens, with numbers as numbers and text as
text that never runs as a formula."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from reporting import xlsx

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read(data: bytes) -> tuple[list[str], list[list[list[tuple[str, str, str]]]]]:
    """Sheet names and, per sheet, rows of (reference, type, text) cells."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314 - our own output
    names = [sheet.get("name") for sheet in book.iterfind("m:sheets/m:sheet", NS)]
    sheets = []
    for n in range(1, len(names) + 1):
        sheet = ElementTree.fromstring(archive.read(f"xl/worksheets/sheet{n}.xml"))  # noqa: S314
        rows = []
        for row in sheet.iterfind("m:sheetData/m:row", NS):
            rows.append(
                [
                    (c.get("r"), c.get("t") or "n", "".join(c.itertext()))
                    for c in row.iterfind("m:c", NS)
                ]
            )
        sheets.append(rows)
    return names, sheets


def test_sheets_cells_and_neutralised_formulas():
    data = xlsx.workbook(
        [
            ("KPIs", [["KPI", "Figure"], ["MTTA", 12.5], ["=1+1", -3], ["<b>&</b>", None]]),
            ("Time in tier: [all]", [["Level"], ["@SUM(A1)"]]),
        ]
    )
    names, sheets = read(data)
    assert names == ["KPIs", "Time in tier   all"]
    assert sheets[0] == [
        [("A1", "inlineStr", "KPI"), ("B1", "inlineStr", "Figure")],
        [("A2", "inlineStr", "MTTA"), ("B2", "n", "12.5")],
        # Text that starts like a formula gets an apostrophe; a negative number stays a number.
        [("A3", "inlineStr", "'=1+1"), ("B3", "n", "-3")],
        [("A4", "inlineStr", "<b>&</b>")],  # escaped in the XML, the same text when read
    ]
    assert sheets[1][1] == [("A2", "inlineStr", "'@SUM(A1)")]


def test_column_names_and_unique_sheet_names():
    assert [xlsx.column_name(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]
    taken: set[str] = set()
    long = "Escalations per level over time and more words"
    assert xlsx.sheet_name(long, taken) == long[:31]
    assert xlsx.sheet_name(long, taken) == long[:27] + " (2)"
    assert xlsx.sheet_name("", taken) == "Sheet"
