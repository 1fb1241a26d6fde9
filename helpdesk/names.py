"""Names of configuration rows (support levels, SLA policies, escalation rules, message
templates) in the reader's language.

Such a row has its `name` (as typed, in the site's main language) and beside it `name_de`,
its German name, blank when there is none. `display_name` is what pages, admin lists and
emails show: the German name on German pages when there is one, the name otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def german_name_field(max_length: int) -> models.CharField:
    return models.CharField(
        _("name (German)"),
        max_length=max_length,
        blank=True,
        help_text=_("Shown instead of the name on German pages and in German emails."),
    )


class TranslatedName:
    """`display_name` for a model with `name` and `name_de`."""

    name: str
    name_de: str

    @property
    def display_name(self) -> str:
        language = (get_language() or "").split("-")[0]
        if language == "de" and self.name_de:
            return self.name_de
        return self.name


@admin.display(description=_("name"), ordering="name")
def display_name_column(obj: TranslatedName) -> str:
    """The admin list column of such a row: its name in the reader's language."""
    return obj.display_name


def german_names_migration(model: str, names: dict[str, str]) -> tuple[Callable, Callable]:
    """(forwards, backwards) for a data migration that gives default rows of `model`
    ("app.Model") their German names: only rows that still carry the default `name` and have
    no German name yet, so names admins changed stay as they are."""
    app_label, model_name = model.split(".")

    def forwards(apps: Any, schema_editor: Any) -> None:
        Model = apps.get_model(app_label, model_name)
        for name, german in names.items():
            Model.objects.filter(name=name, name_de="").update(name_de=german)

    def backwards(apps: Any, schema_editor: Any) -> None:
        Model = apps.get_model(app_label, model_name)
        for name, german in names.items():
            Model.objects.filter(name=name, name_de=german).update(name_de="")

    return forwards, backwards
