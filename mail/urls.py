from django.urls import path

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from mail import views

app_name = "mail"

urlpatterns = [
    path("inbound/<slug:slug>/", views.inbound, name="inbound"),
    path("original/message/<int:pk>/", views.message_original, name="message_original"),
    path("original/ticket/<ref:reference>/", views.ticket_original, name="ticket_original"),
    path("tickets/<ref:reference>/ccs/", views.ticket_ccs, name="ticket_ccs"),
]
