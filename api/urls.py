from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from api import docs, views
from integrations import api as integration_api

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.api_docs, name="docs"),
    path("auth/tokens/", views.TokenListCreate.as_view(), name="tokens"),
    path("auth/tokens/<str:key>/", views.TokenRevoke.as_view(), name="token"),
    path("tickets/", views.TicketListCreate.as_view(), name="tickets"),
    path("tickets/<ref:reference>/", views.TicketDetail.as_view(), name="ticket"),
    path(
        "tickets/<ref:reference>/transitions/<slug:name>/",
        views.TicketTransition.as_view(),
        name="transition",
    ),
    path("tickets/<ref:reference>/messages/", views.TicketMessages.as_view(), name="messages"),
    path("tickets/<ref:reference>/events/", views.TicketEvents.as_view(), name="events"),
    # Alert intake and ticket import (the integrations app).
    path("alerts/", integration_api.AlertIntake.as_view(), name="alerts"),
    path("import/tickets/", integration_api.TicketImport.as_view(), name="import_tickets"),
    # Last: whatever no route above matches is a problem-details 404, not the site's HTML page.
    re_path(r"^(?P<path>[\s\S]*)$", docs.not_found, name="not-found"),
]
