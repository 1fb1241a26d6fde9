from django.urls import path

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from escalation import views

app_name = "escalation"

urlpatterns = [
    path("", views.escalation_list, name="list"),
    path("<int:pk>/acknowledge/", views.escalation_acknowledge, name="acknowledge"),
    path("tickets/<ref:reference>/raise/", views.escalation_raise, name="raise"),
    path("tickets/<ref:reference>/de-escalate/", views.escalation_deescalate, name="deescalate"),
]
