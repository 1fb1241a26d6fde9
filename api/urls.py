from django.urls import path
from drf_spectacular.views import SpectacularAPIView

import tickets.converters
from api import configuration, escalations, notifications, organisation, tickets, views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
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
    *notifications.urlpatterns,
]
