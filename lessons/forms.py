"""Forms of the lessons pages: the list's filters (kept in the URL), the closing report and a
preventive measure. Both write forms carry the report's `version`, so a double submit acts
once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lessons import selectors
from lessons.models import CauseCategory, ClosingReport
from tickets.forms import BootstrapFormMixin
from tickets.models import Service, SupportLevel

# The longest period the list may span (two years): a bound on what one request reads.
MAX_DAYS = 732


class CategoryChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


class UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class FilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=selectors.MAX_QUERY_CHARS)
    category = CategoryChoice(
        label=_("Category of cause"),
        queryset=CauseCategory.objects.all(),
        required=False,
        empty_label=_("Any category"),
    )
    service = CategoryChoice(
        label=_("Service"),
        queryset=Service.objects.all(),
        required=False,
        empty_label=_("Any service"),
    )
    level = forms.TypedChoiceField(
        label=_("Highest level"), required=False, coerce=int, empty_value=None
    )
    start = forms.DateField(
        label=_("Resolved from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("Resolved to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "lessons-%s")
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", _("Any level"))] + [
            (level.rank, str(level)) for level in SupportLevel.objects.all()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end lies before the start."))
            elif (end - start).days > MAX_DAYS:
                self.add_error("end", _("Choose a period of at most two years."))
        return data

    def filters(self) -> selectors.Filters:
        """The cleaned values as `Filters` (call after `is_valid()` returned True)."""
        data = self.cleaned_data
        return selectors.Filters(
            query=data.get("q") or "",
            category=data.get("category"),
            service=data.get("service"),
            level=data.get("level"),
            start=data.get("start"),
            end=data.get("end"),
        )


class ReportForm(BootstrapFormMixin, forms.ModelForm):
    category = CategoryChoice(
        label=_("Category of cause"), queryset=CauseCategory.objects.filter(is_active=True)
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    class Meta:
        model = ClosingReport
        fields = ["category", *ClosingReport.TEXT_FIELDS]
        widgets = {name: forms.Textarea(attrs={"rows": 4}) for name in ClosingReport.TEXT_FIELDS}
        help_texts = {
            "cause": _("What caused it: the root cause, not the symptom."),
            "solution": _("What solved it, and what was done first to limit the damage."),
            "impact": _("Who and what was affected, for how long."),
            "lessons_learned": _("What we learned: what worked, what did not."),
            "preventive_measures": _(
                "What should keep it from happening again; track each as a measure below."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk and instance.category_id is not None:
            # A category retired since the report was written stays choosable for it.
            self.fields["category"].queryset = CauseCategory.objects.filter(
                pk=instance.category_id
            ) | CauseCategory.objects.filter(is_active=True)
        self.fields["version"].initial = instance.version if instance.pk else 0
        self._style_widgets()


class MeasureForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Measure"), max_length=200)
    owner = UserChoice(label=_("Owner"), queryset=selectors.active_agents())
    due_on = forms.DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "measure-%s")
        super().__init__(*args, **kwargs)
        self.today = today
        self._style_widgets()

    def clean_due_on(self) -> dt.date:
        due: dt.date = self.cleaned_data["due_on"]
        if due < self.today:
            raise forms.ValidationError(_("The due date lies in the past."))
        return due
