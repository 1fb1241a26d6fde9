from django.urls import path

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.incident_declare, name="declare"),
    path("link-tickets/", views.link_from_list, name="link_from_list"),
    path("services/", views.service_list, name="services"),
    path("services/<int:pk>/status/", views.service_status, name="service_status"),
    path("waves/<int:pk>/declare/", views.wave_declare, name="wave_declare"),
    path("tickets/<ref:reference>/service/", views.ticket_service, name="ticket_service"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/update/", views.incident_update, name="update"),
    path("<int:pk>/resolve/", views.incident_resolve, name="resolve"),
    path("<int:pk>/link/", views.incident_link, name="link"),
    path("<int:pk>/unlink/<ref:reference>/", views.incident_unlink, name="unlink"),
]
