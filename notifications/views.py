"""In-app notifications of the signed-in user: the navbar bell, the list, marking as read;
and their notification settings.

Each user sees and changes only their own rows; someone else's notification is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from notifications import selectors, services
from notifications.forms import PreferenceForm
from notifications.models import Notification, Preference
from tickets.forms import add_service_error

PER_PAGE = 30

# Sent with every change of read state: the bell listens for it and reloads its count.
CHANGED_EVENT = "notifications-changed"

# htmx stops polling when it gets this status: a bell on a page whose session has ended.
STOP_POLLING = 286


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@never_cache
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The navbar bell, polled by htmx (one query): it counts the tickets with unread
    notifications, as the list groups them, not the notifications themselves."""
    if not request.user.is_authenticated:
        return HttpResponse(status=STOP_POLLING)
    return render(
        request, "notifications/_bell.html", {"unread": selectors.unread_summary(request.user)}
    )


@login_required
@require_GET
def notification_list(request: HtmxHttpRequest) -> HttpResponse:
    """The user's notifications, newest first, unread ones highlighted."""
    return _render_list(request)


def _render_list(request: HtmxHttpRequest) -> HttpResponse:
    number = request.GET.get("page") or request.POST.get("page")
    page = selectors.notification_groups(request.user, number, PER_PAGE)
    unread = Notification.objects.filter(user=request.user, read_at__isnull=True).count()
    template = "notifications/list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#notifications"
    response = render(request, template, {"page": page, "unread": unread})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _after_change(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx:
        response = _render_list(request)
        response["HX-Trigger"] = CHANGED_EVENT
        return response
    page = request.POST.get("page")
    url = redirect("notifications:list").url
    return redirect(f"{url}?page={int(page)}" if page and page.isdigit() else url)


@login_required
@require_POST
def mark_read(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    try:
        services.notifications_mark_read(user=request.user, pk=pk)
    except Notification.DoesNotExist:
        raise Http404 from None
    return _after_change(request)


@login_required
@require_POST
def mark_ticket_read(request: HtmxHttpRequest, ticket_id: int) -> HttpResponse:
    """Every notification of the user about one ticket (a group of the list)."""
    if not Notification.objects.filter(user=request.user, ticket_id=ticket_id).exists():
        raise Http404(_("No such notification."))
    services.notifications_mark_read(user=request.user, ticket_id=ticket_id)
    return _after_change(request)


@login_required
@require_POST
def mark_all_read(request: HtmxHttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user)
    return _after_change(request)


@login_required
@require_http_methods(["GET", "POST"])
def preference_settings(request: HttpRequest) -> HttpResponse:
    """My notification settings: email language and time zone, business hours that hold
    non-urgent email, and the channels per kind of notification. A user who never saved sees
    the defaults `notify()` uses for them."""
    preference = Preference.for_user(request.user)
    channels = services.channels_of(request.user)
    if request.method == "POST":
        form = PreferenceForm(request.POST, preference=preference, channels=channels)
        if form.is_valid():
            try:
                services.preferences_update(user=request.user, **form.preferences())
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, _("Your notification settings have been saved."))
                return redirect("notifications:settings")
        status = 422
    else:
        form = PreferenceForm(preference=preference, channels=channels)
        status = 200
    return render(request, "notifications/settings.html", {"form": form}, status=status)
