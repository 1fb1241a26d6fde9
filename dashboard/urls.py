from django.urls import path

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="index"),
    path("live/<slug:name>/", views.fragment, name="fragment"),
    path("trends/<slug:name>.csv", views.trend_csv, name="trend_csv"),
    path("acknowledge/", views.acknowledge, name="acknowledge"),
    path("tickets/<ref:reference>/actions/", views.actions, name="actions"),
    path("tickets/<ref:reference>/assign/", views.reassign, name="reassign"),
    path("tickets/<ref:reference>/escalate/", views.escalate, name="escalate"),
    path("tickets/<ref:reference>/de-escalate/", views.deescalate, name="deescalate"),
]
