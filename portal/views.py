"""The customer portal's pages: thin, they parse input, call a service, and render.

Every ticket is found through `selectors.ticket_for_contact` (the contact's visibility rule);
every page but sign-in and the signed rating link needs a signed-in contact (`contact_required`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language
from django_fsm import TransitionNotAllowed

from accounts.security import client_ip
from helpdesk import uploads
from portal import links, selectors, services, signin
from portal.forms import (
    ActionForm,
    CodeForm,
    OpenTicketForm,
    RatingForm,
    ReplyForm,
    SignInForm,
)
from portal.session import contact_required, contact_zone, current_contact, sign_in, sign_out
from tickets.forms import add_service_error
from tickets.models import Ticket
from tickets.services import StaleRequest
from tickets.views import attachment_response

PENDING_KEY = "portal_pending_address"


def _next_url(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _posted(request: HttpRequest):
    """The submitted data of a POST (an empty POST too: it is invalid, not unbound)."""
    return request.POST if request.method == "POST" else None


def home(request: HttpRequest) -> HttpResponse:
    if current_contact(request) is not None:
        return redirect("portal:tickets")
    return redirect("portal:sign_in")


@require_http_methods(["GET", "POST"])
def sign_in_view(request: HttpRequest) -> HttpResponse:
    """Step one: the address. The answer is the same whether it belongs to a contact or not."""
    if current_contact(request) is not None:
        return redirect("portal:tickets")
    form = SignInForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        address = form.cleaned_data["email"]
        try:
            signin.code_request(address=address, ip=client_ip(request))
        except signin.SignInRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            request.session[PENDING_KEY] = signin.normalise(address)
            code_url = reverse("portal:code")
            next_url = _next_url(request, "")
            return redirect(f"{code_url}?{urlencode({'next': next_url})}" if next_url else code_url)
    return render(
        request,
        "portal/sign_in.html",
        {"form": form, "next": _next_url(request, "")},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def code_view(request: HttpRequest) -> HttpResponse:
    """Step two: the code from the email."""
    address = request.session.get(PENDING_KEY)
    if not address:
        return redirect("portal:sign_in")
    form = CodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            contact = signin.code_verify(
                address=address, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except signin.SignInRefused as refusal:
            form.add_error("code", str(refusal))
        else:
            request.session.pop(PENDING_KEY, None)
            sign_in(request, contact)
            response = redirect(_next_url(request, reverse("portal:tickets")))
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, contact.language)
            return response
    return render(
        request,
        "portal/code.html",
        {
            "form": form,
            "address": address,
            "minutes": settings.PORTAL_CODE_MINUTES,
            "next": _next_url(request, ""),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def link_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the code email. GET shows a button; only its POST signs in, so that a
    mail scanner opening the link does not use it up."""
    if current_contact(request) is not None:
        return redirect("portal:tickets")
    error = None
    if request.method == "POST":
        try:
            contact = signin.link_verify(token=token, ip=client_ip(request))
        except signin.SignInRefused as refusal:
            error = str(refusal)
        else:
            sign_in(request, contact)
            response = redirect("portal:tickets")
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, contact.language)
            return response
    return render(request, "portal/link.html", {"error": error}, status=400 if error else 200)


@require_POST
def sign_out_view(request: HttpRequest) -> HttpResponse:
    sign_out(request)
    messages.info(request, _("You are signed out."))
    return redirect("portal:sign_in")


@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """The portal's language switcher: the cookie, and the signed-in contact's language (their
    pages and emails)."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    contact = current_contact(request)
    if contact is not None and language in dict(settings.LANGUAGES):
        contact.language = language
        contact.save(update_fields=["language"])
    return response


@contact_required
@require_http_methods(["GET", "HEAD"])
def ticket_list(request: HttpRequest) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    scope = request.GET.get("scope")
    scope = scope if scope in ("all", "mine") else "all"
    state = request.GET.get("state")
    state = state if state in ("all", "open", "closed") else "open"
    query = request.GET.get("q", "")
    page = selectors.ticket_page(
        contact, scope=scope, state=state, query=query, page=request.GET.get("page", 1)
    )
    rows = [(t, selectors.status_words(t.status)) for t in page.object_list]
    return render(
        request,
        "portal/list.html",
        {
            "contact": contact,
            "page": page,
            "rows": rows,
            "scope": scope,
            "state": state,
            "q": query.strip()[:100],
            "organisation": contact.sees_organisation_tickets,
        },
    )


@contact_required
@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    form = OpenTicketForm(
        _posted(request),
        request.FILES if request.method == "POST" else None,
        upload_refusal=uploads.refusal(request) if request.method == "POST" else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            opened = services.portal_ticket_open(
                contact=contact,
                request=form.portal_request(),
                attachments=form.cleaned_data["attachments"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if opened.created:
                messages.success(
                    request,
                    _("Thank you. Your ticket %(ref)s has been opened.")
                    % {"ref": opened.ticket.reference},
                )
            else:
                messages.info(request, _("This ticket had been opened already."))
            return redirect("portal:detail", reference=opened.ticket.reference)
    return render(
        request,
        "portal/create.html",
        {"contact": contact, "form": form},
        status=400 if form.errors else 200,
    )


def _detail_context(request: HttpRequest, ticket: Ticket, **extra: object) -> dict[str, object]:
    now = timezone.now()
    rating_open = services.rating_open(ticket)
    return {
        "contact": request.contact,  # type: ignore[attr-defined]
        "ticket": ticket,
        "status": selectors.status_words(ticket.status),
        "promise": selectors.promise(ticket),
        "thread": [(m, selectors.agent_name(m)) for m in selectors.public_messages(ticket)],
        "opening_attachments": list(selectors.opening_attachments(ticket)),
        "can_reply": ticket.is_active or services.can_reopen(ticket, now),
        "can_solve": ticket.status != Ticket.Status.CLOSED,
        "can_reopen": services.can_reopen(ticket, now),
        "rating_token": links.rating_token(ticket) if rating_open else None,
        "rating_form": RatingForm() if rating_open else None,
        "reply_form": extra.pop("reply_form", None) or ReplyForm(),
        **extra,
    }


@contact_required
@require_http_methods(["GET", "HEAD"])
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_for_contact(request.contact, reference)  # type: ignore[attr-defined]
    return render(request, "portal/detail.html", _detail_context(request, ticket))


@contact_required
@require_POST
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    ticket = selectors.ticket_for_contact(contact, reference)
    form = ReplyForm(request.POST, request.FILES, upload_refusal=uploads.refusal(request))
    if form.is_valid():
        try:
            services.portal_reply(
                ticket=ticket,
                body=form.cleaned_data["body"],
                contact=contact,
                attachments=form.cleaned_data["attachments"],
                intent=form.cleaned_data["intent"],
            )
        except StaleRequest as stale:
            messages.info(request, str(stale))
            return redirect("portal:detail", reference=reference)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Your message has been sent."))
            return redirect("portal:detail", reference=reference)
    ticket.refresh_from_db()
    return render(
        request,
        "portal/detail.html",
        _detail_context(request, ticket, reply_form=form),
        status=400,
    )


@contact_required
@require_POST
def ticket_status(request: HttpRequest, reference: str) -> HttpResponse:
    """ "My problem is solved" and "reopen"."""
    contact = request.contact  # type: ignore[attr-defined]
    ticket = selectors.ticket_for_contact(contact, reference)
    form = ActionForm(request.POST)
    action = request.POST.get("action", "")
    if not form.is_valid() or action not in ("solved", "reopen"):
        messages.error(request, _("This request was not understood; nothing was changed."))
        return redirect("portal:detail", reference=reference)
    try:
        ticket = services.portal_transition(
            contact=contact,
            ticket=ticket,
            action=action,
            expected_version=form.cleaned_data["version"],
        )
    except StaleRequest:
        messages.warning(request, _("This ticket has changed meanwhile; nothing was done."))
    except (TransitionNotAllowed, PermissionDenied) as refusal:
        messages.error(request, str(refusal))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if ticket.status == Ticket.Status.OPEN:
            messages.success(request, _("The ticket is open again. Tell us what is still wrong."))
        else:
            messages.success(request, _("Thank you for letting us know."))
    return redirect("portal:detail", reference=reference)


@contact_required
@require_http_methods(["GET", "HEAD"])
def attachment_download(request: HttpRequest, reference: str, pk: int) -> HttpResponseBase:
    """A file of a public message, always as a download (never rendered in our origin)."""
    ticket = selectors.ticket_for_contact(request.contact, reference)  # type: ignore[attr-defined]
    return attachment_response(selectors.public_attachment(ticket, pk))


@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, token: str) -> HttpResponse:
    """Rate a solution by the signed link from the email (or the ticket page): no sign-in."""
    contact = current_contact(request)
    try:
        target = links.rating_target(token)
    except links.InvalidRatingLink as invalid:
        return render(request, "portal/rate_invalid.html", {"reason": str(invalid)}, status=404)
    ticket = target.ticket
    if contact is not None and not (
        Ticket.objects.visible_to_contact(contact).filter(pk=ticket.pk).exists()
    ):
        contact = None  # a forwarded link: the rating is the requester's, not this visitor's
    reader = contact or ticket.requester
    language = reader.language if reader else translation.get_language()
    with (
        translation.override(language),
        timezone.override(contact_zone(reader) if reader else timezone.get_current_timezone()),
    ):
        form = RatingForm(_posted(request))
        already = not services.rating_open(ticket, target.resolution)
        if request.method == "POST" and form.is_valid() and not already:
            try:
                services.rating_submit(
                    ticket=ticket,
                    resolution=target.resolution,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    contact=contact if contact is not None else ticket.requester,
                )
            except services.RatingRefused:
                already = True
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return render(
                    request,
                    "portal/rate_done.html",
                    {"ticket": ticket, "contact": contact, "sees_ticket": contact is not None},
                )
        status = 409 if already and request.method == "POST" else 400 if form.errors else 200
        return render(
            request,
            "portal/rate.html",
            {"ticket": ticket, "form": form, "already": already, "contact": contact},
            status=status,
        )
