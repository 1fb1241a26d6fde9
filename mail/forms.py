"""Forms of the mail app's pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.forms import BootstrapFormMixin


class CcForm(BootstrapFormMixin, forms.Form):
    """Add an address to a ticket's CCs (`email`), or remove one (`remove`, a button)."""

    email = forms.EmailField(
        label=_("Add by email address"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    remove = forms.CharField(max_length=254, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_widgets()

    def clean_email(self) -> str:
        return self.cleaned_data["email"].lower()

    def clean_remove(self) -> str:
        return self.cleaned_data["remove"].strip().lower()
