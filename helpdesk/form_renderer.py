"""The form renderer (`FORM_RENDERER`): Django's, with its commonest widget templates as code.

Django renders every form widget through a template, and a select through one more template
per option, each including the attribute template again: a page with a few forms renders
hundreds of tiny templates, which costs milliseconds of CPU on every view of the ticket page
(assign, priority, hand-back, reply and CC forms). `WidgetRenderer` writes the markup of the
input, checkbox, textarea and select templates directly, character for character what
Django's templates write (`tests/test_form_renderer.py` renders both and compares), and
hands every other template (and a select whose options use another template) to Django.
A project template that overrides one of these widget templates would not be seen: there
is none, and the test fails if one appears.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime

INPUT = "django/forms/widgets/input.html"
OPTION = "django/forms/widgets/select_option.html"
# The widget templates that are `input.html` (directly or through one include).
INPUTS = frozenset(
    {
        INPUT,
        "django/forms/widgets/text.html",
        "django/forms/widgets/email.html",
        "django/forms/widgets/number.html",
        "django/forms/widgets/url.html",
        "django/forms/widgets/password.html",
        "django/forms/widgets/hidden.html",
        "django/forms/widgets/search.html",
        "django/forms/widgets/tel.html",
        "django/forms/widgets/date.html",
        "django/forms/widgets/datetime.html",
        "django/forms/widgets/time.html",
        "django/forms/widgets/color.html",
        "django/forms/widgets/checkbox.html",
    }
)
SELECT = "django/forms/widgets/select.html"
TEXTAREA = "django/forms/widgets/textarea.html"


def _shown(value: Any) -> str:
    """`{{ value }}` (`render_value_in_context`): localised, escaped unless safe."""
    value = localize(template_localtime(value))
    return conditional_escape(value if isinstance(value, str) else str(value))


def _text(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: as text (not localised), escaped unless safe."""
    text = str(value)  # what "%s" makes of any value
    return text if isinstance(value, SafeData) else conditional_escape(text)


def _attrs(attrs: Mapping[str, Any]) -> str:
    """`django/forms/widgets/attrs.html`."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {_shown(name)}")
        if value is not True:
            out.append(f'="{_text(value)}"')
    return "".join(out)


def _input(widget: Mapping[str, Any]) -> str:
    value = "" if widget["value"] is None else f' value="{_text(widget["value"])}"'
    return (
        f'<input type="{_shown(widget["type"])}" '
        f'name="{_shown(widget["name"])}"{value}{_attrs(widget["attrs"])}>'
    )


def _textarea(widget: Mapping[str, Any]) -> str:
    value = _shown(widget["value"]) if widget["value"] else ""
    return (
        f'<textarea name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'
    )


def _select(widget: Mapping[str, Any]) -> str | None:
    out = [f'<select name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_shown(group_name)}">')
        for option in options:
            if option["template_name"] != OPTION:
                return None
            out.append(
                f'\n  <option value="{_text(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_shown(option['label'])}</option>\n"  # the option template's last line
            )
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


_WRITERS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    **dict.fromkeys(INPUTS, _input),
    TEXTAREA: _textarea,
    SELECT: _select,
}


class WidgetRenderer(DjangoTemplates):
    """Django's `DjangoTemplates` form renderer; the widget templates above written as code."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        write = _WRITERS.get(template_name)
        widget = context.get("widget") if write is not None else None
        if widget is not None:
            written = write(widget)  # type: ignore[misc]
            if written is not None:
                return written.strip()
        return super().render(template_name, context, request)
