"""The API tokens page of a user's settings: list, create (the secret shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from api.models import ApiToken
from integrations import services
from integrations.forms import TokenForm


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens and a form for a new one. POST: make it and show its secret
    in this answer only (never stored, never in a redirect or a flash message)."""
    form = TokenForm(request.POST or None)
    secret, new_token = None, None
    if request.method == "POST" and form.is_valid():
        try:
            new_token, secret = services.token_create(
                user=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            form = TokenForm()
    return render(
        request,
        "integrations/tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user),
            "form": form,
            "secret": secret,
            "new_token": new_token,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def revoke(request: HttpRequest, key: str) -> HttpResponse:
    """Revoke one of the user's own tokens (a repeat finds nothing: 404)."""
    if not services.token_revoke(actor=request.user, key=key, own_only=True):
        raise Http404
    messages.success(request, _("The token was revoked."))
    return redirect("api_tokens")
