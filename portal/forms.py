"""Forms of the portal. They parse the customer's input; the services decide and write."""

from __future__ import annotations

import uuid

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.services import PortalRequest
from tickets.forms import AttachmentsFormMixin, BootstrapFormMixin, MultipleFileField
from tickets.models import Service

# The severity matrix's impact (1 = widest) and urgency (1 = most urgent) asked in plain words.
IMPACT_ANSWERS = [
    (1, _("Everyone in our organisation, or a whole service is down")),
    (2, _("Many people or a whole department")),
    (3, _("Me or a few colleagues; we can work around it")),
    (4, _("Nobody is held up: a question or a small flaw")),
]
URGENCY_ANSWERS = [
    (1, _("Our work has stopped now")),
    (2, _("Our work is seriously slowed down today")),
    (3, _("It should be solved within a few days")),
    (4, _("There is no deadline")),
]


def new_intent() -> str:
    return uuid.uuid4().hex


class SignInForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField(label=_("Your email address"), max_length=254)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email", "autofocus": True})
        self._style_widgets()


class CodeForm(BootstrapFormMixin, forms.Form):
    code = forms.RegexField(
        label=_("Code from the email"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("The code has six digits.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(
            {"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        )
        self._style_widgets()


class OpenTicketForm(AttachmentsFormMixin, BootstrapFormMixin, forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("What happened?"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What did you do, what did you expect, and what happened instead?"),
    )
    service = forms.ModelChoiceField(
        label=_("Affected service"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=pgettext_lazy("affected service", "— Not sure —"),
    )
    impact = forms.TypedChoiceField(
        label=_("Who is affected?"),
        choices=IMPACT_ANSWERS,
        coerce=int,
        widget=forms.RadioSelect,
    )
    urgency = forms.TypedChoiceField(
        label=_("How urgent is it?"),
        choices=URGENCY_ANSWERS,
        coerce=int,
        widget=forms.RadioSelect,
    )
    attachments = MultipleFileField(label=_("Attachments"))
    intent = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(is_active=True).order_by("name")
        self.fields["intent"].initial = new_intent()
        # Help articles suggested while the subject is typed (knowledge/: the public
        # suggestions fragment and static/js/knowledge-suggest.js), shown under the subject.
        self.fields["subject"].widget.attrs.update(
            {
                "data-knowledge-suggest": reverse("help:suggest"),
                "data-knowledge-context": "portal-new-ticket",
                "data-knowledge-results": "portal-suggestions",
                "autocomplete": "off",
            }
        )
        self._style_widgets()

    def portal_request(self) -> PortalRequest:
        data = self.cleaned_data
        return PortalRequest(
            subject=data["subject"],
            description=data["description"],
            impact=data["impact"],
            urgency=data["urgency"],
            service=data["service"],
            intent=data["intent"],
        )


class ReplyForm(AttachmentsFormMixin, BootstrapFormMixin, forms.Form):
    body = forms.CharField(label=_("Your message"), widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MultipleFileField(label=_("Attachments"))
    intent = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["intent"].initial = new_intent()
        self._style_widgets()


class ActionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class RatingForm(BootstrapFormMixin, forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with the solution?"),
        choices=[
            (5, _("5 · Very satisfied")),
            (4, _("4 · Satisfied")),
            (3, _("3 · Neither")),
            (2, _("2 · Dissatisfied")),
            (1, _("1 · Very dissatisfied")),
        ],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you want to tell us? (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._style_widgets()
