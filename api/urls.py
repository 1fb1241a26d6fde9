from django.urls import path
from drf_spectacular.views import SpectacularAPIView

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from api import views
from incidents import api as incidents_api

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
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
    # Major incidents and services (incidents/api.py).
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
    path("services/", incidents_api.ServiceList.as_view(), name="services"),
    path("services/<int:pk>/status/", incidents_api.ServiceStatus.as_view(), name="service_status"),
]
