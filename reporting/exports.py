"""CSV cells safe to open in a spreadsheet, shared by every export of figures (the dashboard's
trends and the reports page)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula: text starting with = + - @, a tab
    or a carriage return gets a leading apostrophe. Numbers stay numbers."""
    text = "" if value is None else str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
