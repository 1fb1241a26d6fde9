"""HTTP entry points of the mail app: the inbound endpoint (raw MIME from an MTA or a
provider's webhook), the original of a received mail for agents, and the ticket page's CC
form."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from mail import ccs
from mail.forms import CcForm
from mail.models import InboundMail, Mailbox
from mail.parsing import parse
from mail.services import mail_receive
from tickets import selectors
from tickets.forms import add_service_error
from tickets.models import Ticket
from tickets.views import REFUSALS, after_action, expected_version, refused, render_ticket


def _problem(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"status": status, "detail": detail}, status=status)


def _authorised(request: HttpRequest, mailbox: Mailbox | None) -> bool:
    token = mailbox.secret(mailbox.inbound_token_env) if mailbox else ""
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    )


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, slug: str) -> JsonResponse:
    """Receive one raw message (the request body, RFC 5322) for the mailbox `slug`, with
    `Authorization: Bearer <the mailbox's token>`. 201 with the outcome for a new message,
    200 for one received before (not processed again), 401, 400 for an empty body, 413
    above MAIL_MAX_BYTES."""
    mailbox = Mailbox.objects.filter(slug=slug, is_active=True).select_related("team").first()
    if not _authorised(request, mailbox):
        return _problem(401, _("Unknown mailbox or wrong token."))
    assert mailbox is not None
    limit = settings.MAIL_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _problem(400, _("Invalid Content-Length."))
    if length > limit:
        return _problem(413, _("The message is larger than %(limit)s bytes.") % {"limit": limit})
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _problem(413, _("The message is larger than %(limit)s bytes.") % {"limit": limit})
    if not raw.strip():
        return _problem(400, _("The request body must be the raw email message."))
    mail, created = mail_receive(mailbox=mailbox, raw=raw)
    return JsonResponse(
        {
            "id": mail.pk,
            "message_id": mail.message_id,
            "outcome": mail.outcome,
            "ticket": mail.ticket.reference if mail.ticket_id else None,
            "duplicate": not created,
        },
        status=201 if created else 200,
    )


def _original(request: HttpRequest, mail: InboundMail | None) -> HttpResponse:
    """The stored mail, for agents who may read its ticket: headers and the text part
    (shown as text, never as HTML), the attachments' names."""
    if mail is None or mail.ticket_id is None:
        raise Http404
    ticket = Ticket.objects.visible_to(request.user).filter(pk=mail.ticket_id).first()
    if ticket is None:
        raise Http404
    parsed = parse(bytes(mail.raw))
    return render(
        request,
        "mail/original.html",
        {"mail": mail, "parsed": parsed, "ticket": ticket},
    )


@login_required
@require_GET
def message_original(request: HttpRequest, pk: int) -> HttpResponse:
    """The mail a customer message on the timeline came from."""
    return _original(request, InboundMail.objects.filter(ticket_message=pk).first())


@login_required
@require_GET
def ticket_original(request: HttpRequest, reference: str) -> HttpResponse:
    """The mail that opened a ticket."""
    mail = (
        InboundMail.objects.filter(
            ticket__reference=reference,
            outcome__in=[InboundMail.Outcome.CREATED, InboundMail.Outcome.FOLLOW_UP],
        )
        .order_by("received_at", "pk")
        .first()
    )
    return _original(request, mail)


@login_required
@require_POST
def ticket_ccs(request: HttpRequest, reference: str) -> HttpResponse:
    """Add an address to the ticket's CCs, or remove one (the ticket page's CC card)."""
    ticket = selectors.ticket_for_user(request.user, reference)
    form = CcForm(request.POST)
    if form.is_valid():
        try:
            ccs.ticket_change_ccs(
                ticket=ticket,
                actor=request.user,
                add=form.cleaned_data["email"],
                remove=form.cleaned_data["remove"],
                expected_version=expected_version(request),
            )
        except REFUSALS as exc:
            return refused(request, ticket, exc)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            text = (
                _("%(address)s was removed from the CCs.")
                if form.cleaned_data["remove"]
                else _("%(address)s will receive the public replies in CC.")
            )
            address = form.cleaned_data["remove"] or form.cleaned_data["email"]
            return after_action(request, ticket, text % {"address": address}, focus="#ccs-heading")
    return render_ticket(request, ticket, status=422, cc_form=form)
