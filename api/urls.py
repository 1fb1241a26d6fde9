from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

import tickets.converters
from api import configuration, docs, escalations, notifications, organisation, tickets, views
from api import lab as lab_api
from incidents import api as incidents_api
from integrations import api as integration_api

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.api_docs, name="docs"),
    path("auth/tokens/", views.TokenListCreate.as_view(), name="tokens"),
    path("auth/tokens/<str:key>/", views.TokenRevoke.as_view(), name="token"),
    # Tickets
    path("tickets/", tickets.TicketListCreate.as_view(), name="tickets"),
    path("tickets/<ref:reference>/", tickets.TicketDetail.as_view(), name="ticket"),
    path(
        "tickets/<ref:reference>/transitions/<slug:name>/",
        tickets.TicketTransition.as_view(),
        name="transition",
    ),
    path("tickets/<ref:reference>/messages/", tickets.TicketMessages.as_view(), name="messages"),
    path(
        "tickets/<ref:reference>/attachments/<int:pk>/",
        tickets.AttachmentDownload.as_view(),
        name="attachment",
    ),
    path("tickets/<ref:reference>/events/", tickets.TicketEvents.as_view(), name="events"),
    path("tickets/<ref:reference>/follow/", tickets.TicketFollow.as_view(), name="follow"),
    # Escalations
    path(
        "tickets/<ref:reference>/escalations/",
        escalations.TicketEscalations.as_view(),
        name="ticket-escalations",
    ),
    path(
        "tickets/<ref:reference>/de-escalations/",
        escalations.TicketDeescalate.as_view(),
        name="deescalate",
    ),
    path("escalations/", escalations.EscalationList.as_view(), name="escalations"),
    path(
        "escalations/<int:pk>/acknowledge/",
        escalations.EscalationAcknowledge.as_view(),
        name="acknowledge",
    ),
    # Organisation (read), configuration (admin writes), the caller's notifications
    *organisation.urlpatterns,
    *configuration.urlpatterns,
    # The configuration as one document, its versions, drafts and backtests (api/lab.py)
    *lab_api.urlpatterns,
    *notifications.urlpatterns,
    # Major incidents, and a service's status change with its history (incidents/api.py);
    # the services themselves are listed with the organisation above.
    path("incidents/", incidents_api.IncidentListCreate.as_view(), name="incidents"),
    path("incidents/<int:pk>/", incidents_api.IncidentDetail.as_view(), name="incident"),
    path("incidents/<int:pk>/links/", incidents_api.IncidentLinks.as_view(), name="incident_links"),
    path(
        "incidents/<int:pk>/links/<ref:reference>/",
        incidents_api.IncidentUnlink.as_view(),
        name="incident_unlink",
    ),
    path(
        "incidents/<int:pk>/updates/",
        incidents_api.IncidentUpdates.as_view(),
        name="incident_updates",
    ),
    path(
        "incidents/<int:pk>/resolve/",
        incidents_api.IncidentResolve.as_view(),
        name="incident_resolve",
    ),
    path("services/<int:pk>/status/", incidents_api.ServiceStatus.as_view(), name="service_status"),
    # Alert intake and ticket import (the integrations app).
    path("alerts/", integration_api.AlertIntake.as_view(), name="alerts"),
    path("import/tickets/", integration_api.TicketImport.as_view(), name="import_tickets"),
    path("reports/", include("reporting.api")),
    # Last: whatever no route above matches is a problem-details 404, not the site's HTML page.
    re_path(r"^(?P<path>[\s\S]*)$", docs.not_found, name="not-found"),
]
