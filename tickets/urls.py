from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("<str:reference>/", views.ticket_detail, name="detail"),
    path("<str:reference>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
