"""The site's URLs plus the floor endpoint that bench/api.py compares the API with: a DRF view
returning one ticket row by primary key, behind the same token authentication."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.urls import urlpatterns as site_urls
from tickets.models import Ticket


class Floor(APIView):
    def get(self, request: Request, pk: int) -> Response:
        return Response(Ticket.objects.filter(pk=pk).values("id", "reference", "subject").first())


urlpatterns = [path("bench/floor/<int:pk>/", Floor.as_view()), *site_urls]
