"""`helpdesk.form_renderer.WidgetRenderer` writes what Django's widget templates write.

Every widget it writes as code is rendered here by it and by Django's own `DjangoTemplates`
renderer, with values that must be escaped, safe strings, numbers, lazy labels, groups,
selected and disabled options and boolean attributes, and the results must be equal to the
character; so must every form of the ticket page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import django
import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, override

from helpdesk.form_renderer import INPUTS, SELECT, TEXTAREA, WidgetRenderer

CODE = WidgetRenderer()
TEMPLATES = DjangoTemplates()

CHOICES = [
    ("", "— none —"),
    (1, "One & <two>"),
    ("Group <g>", [(2, gettext_lazy("Urgency")), (3, mark_safe("<b>safe</b>"))]),
    (4, 1234),
]


def widgets() -> list[tuple[forms.Widget, object]]:
    """Widgets of every kind the renderer writes, each with a value to show."""
    attrs = {"class": "form-control", "aria-describedby": 'x"y', "required": True}
    return [
        (forms.TextInput(attrs=attrs), "Hello <world> & “you”"),
        (forms.TextInput(), None),
        (forms.TextInput(attrs={"disabled": False, "data-x": 0}), ""),
        (forms.EmailInput(attrs={"autocomplete": "off"}), "a@example.com"),
        (forms.NumberInput(), 12345),
        (forms.NumberInput(), 1.5),
        (forms.URLInput(), "https://example.com/?a=1&b=2"),
        (forms.PasswordInput(render_value=True), "s3cr<et"),
        (forms.PasswordInput(), "hidden"),
        (forms.HiddenInput(), mark_safe("<already safe>")),
        (forms.DateInput(), dt.date(2026, 12, 7)),
        (forms.DateTimeInput(), dt.datetime(2026, 12, 7, 10, 30)),
        (forms.TimeInput(), dt.time(9, 5)),
        (forms.CheckboxInput(attrs={"class": "form-check-input"}), True),
        (forms.CheckboxInput(), False),
        (forms.Textarea(attrs={"rows": 4, "placeholder": gettext_lazy("Write a reply…")}), ""),
        (forms.Textarea(), "Line 1\n<script>alert(1)</script>\n"),
        (forms.Textarea(), None),
        (forms.Select(choices=CHOICES, attrs={"class": "form-select"}), 3),
        (forms.Select(choices=CHOICES), ""),
        (forms.Select(choices=CHOICES, attrs={"disabled": True}), None),
        (forms.SelectMultiple(choices=CHOICES), [1, 2]),
        (forms.NullBooleanSelect(), True),
    ]


@pytest.mark.parametrize("language", ["en", "de"])
def test_widgets_are_written_as_the_templates_write_them(language):
    with override(language):
        for i, (widget, value) in enumerate(widgets()):
            name = f"field_{i}"
            attrs = {"id": f"id_{name}"}
            expected = widget.render(name, value, attrs, renderer=TEMPLATES)
            assert widget.render(name, value, attrs, renderer=CODE) == expected


def test_every_kind_of_widget_above_is_written_as_code():
    # The list above reaches each template the renderer writes (else it would test nothing).
    names = {w.template_name for w, _value in widgets()}
    assert {SELECT, TEXTAREA} <= names
    assert len(names & INPUTS) >= 10


def test_other_templates_go_to_django():
    radio = forms.RadioSelect(choices=[(1, "a"), (2, "b")])
    assert radio.render("r", 1, renderer=CODE) == radio.render("r", 1, renderer=TEMPLATES)


def test_no_project_template_overrides_a_widget_written_as_code():
    # The code writes Django's own templates: an override in the project would be ignored.
    django_forms = Path(django.__file__).parent / "forms" / "templates"
    for name in [*INPUTS, SELECT, TEXTAREA, "django/forms/widgets/attrs.html"]:
        origin = TEMPLATES.get_template(name).origin.name
        assert Path(origin).is_relative_to(django_forms), origin


def test_the_project_uses_it():
    assert settings.FORM_RENDERER == "helpdesk.form_renderer.WidgetRenderer"


@pytest.mark.django_db
def test_the_ticket_page_forms_are_written_as_the_templates_write_them(team_a, agent):
    from escalation.forms import DeescalateForm
    from mail.forms import CcForm
    from tickets.forms import AssignForm, MessageForm, PriorityForm

    teams = [team_a]
    made = [
        AssignForm(teams=teams, initial={"team": team_a.pk, "assignee": agent.pk}),
        AssignForm({"team": "x", "assignee": "", "reason": "<b>"}, teams=teams),
        PriorityForm(initial={"impact": 2, "urgency": 3}),
        PriorityForm({"impact": 9, "reason": ""}),
        MessageForm(),
        MessageForm({"body": "<script>", "internal": "on"}),
        CcForm({"email": "not an address"}),
        DeescalateForm(targets=teams),
    ]
    for form in made:
        if form.is_bound:
            form.is_valid()  # the errors are part of what is shown
        for field in form:
            form.renderer = TEMPLATES
            expected = str(field)
            form.renderer = CODE
            assert str(field) == expected
