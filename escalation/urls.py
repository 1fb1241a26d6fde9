from django.urls import path

from escalation import views

app_name = "escalation"

urlpatterns = [
    path("", views.escalation_list, name="list"),
    path("<int:pk>/acknowledge/", views.escalation_acknowledge, name="acknowledge"),
    path("tickets/<str:reference>/raise/", views.escalation_raise, name="raise"),
    path("tickets/<str:reference>/de-escalate/", views.escalation_deescalate, name="deescalate"),
]
