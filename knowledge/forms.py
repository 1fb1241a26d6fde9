"""Forms of the knowledge pages: the search box and the "this solved my problem" button."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from knowledge.models import Category, Deflection
from knowledge.selectors import MAX_QUERY_CHARS


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=MAX_QUERY_CHARS,
        strip=True,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.all(),
        to_field_name="slug",
        required=False,
        empty_label=_("All categories"),
    )

    def search_values(self) -> tuple[str, Category | None]:
        """The query and category asked for; an invalid form (a query too long, a category
        that does not exist) asks for nothing rather than failing the page."""
        if not self.is_valid():
            return "", None
        return self.cleaned_data["q"], self.cleaned_data["category"]


class DeflectionForm(forms.Form):
    source = forms.ChoiceField(choices=Deflection.Source.choices)
    context = forms.SlugField(max_length=50, required=False)


def suggestion_context(value: str) -> str:
    """The form a suggestion was shown in, as given by the page: a slug, else nothing."""
    field = forms.SlugField(max_length=50, required=False)
    try:
        return field.clean(value)
    except forms.ValidationError:
        return ""
