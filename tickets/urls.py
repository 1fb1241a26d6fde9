from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("<str:reference>/", views.ticket_detail, name="detail"),
    path("<str:reference>/messages/", views.ticket_message, name="message"),
    path("<str:reference>/transitions/<slug:name>/", views.ticket_transition, name="transition"),
    path("<str:reference>/assign/", views.ticket_assign, name="assign"),
    path("<str:reference>/priority/", views.ticket_priority, name="priority"),
    path("<str:reference>/follow/", views.ticket_follow, name="follow"),
    path("<str:reference>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
