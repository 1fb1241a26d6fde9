from django.urls import path

import tickets.converters  # noqa: F401 - registers the <ref:…> converter
from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("bulk/", views.ticket_bulk, name="bulk"),
    path("views/", views.saved_view_save, name="view_save"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="view_delete"),
    path("<ref:reference>/", views.ticket_detail, name="detail"),
    path("<ref:reference>/messages/", views.ticket_message, name="message"),
    path("<ref:reference>/transitions/<slug:name>/", views.ticket_transition, name="transition"),
    path("<ref:reference>/assign/", views.ticket_assign, name="assign"),
    path("<ref:reference>/priority/", views.ticket_priority, name="priority"),
    path("<ref:reference>/escalate-form/", views.ticket_escalate_form, name="escalate_form"),
    path("<ref:reference>/follow/", views.ticket_follow, name="follow"),
    path("<ref:reference>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
