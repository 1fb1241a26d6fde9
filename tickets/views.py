"""HTML views for agents. Thin: check access, call a service, render."""
from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


healthz = ticket_list = ticket_create = ticket_detail = attachment_download = home
