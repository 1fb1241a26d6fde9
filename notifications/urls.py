from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell/", views.bell, name="bell"),
    path("settings/", views.preference_settings, name="settings"),
    path("read/", views.mark_all_read, name="read_all"),
    path("<int:pk>/read/", views.mark_read, name="read"),
    path("tickets/<int:ticket_id>/read/", views.mark_ticket_read, name="read_ticket"),
]
