"""The customer portal at /portal/. Every pattern here is in the access matrix of
tests/portal/test_access.py: a new one without an expectation there fails the suite."""

from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in_view, name="sign_in"),
    path("sign-in/code/", views.code_view, name="code"),
    path("sign-in/link/<str:token>/", views.link_view, name="link"),
    path("sign-out/", views.sign_out_view, name="sign_out"),
    path("language/", views.language_view, name="language"),
    path("tickets/", views.ticket_list, name="tickets"),
    path("tickets/new/", views.ticket_create, name="create"),
    path("tickets/<str:reference>/", views.ticket_detail, name="detail"),
    path("tickets/<str:reference>/reply/", views.ticket_reply, name="reply"),
    path("tickets/<str:reference>/status/", views.ticket_status, name="status"),
    path(
        "tickets/<str:reference>/attachments/<int:pk>/",
        views.attachment_download,
        name="attachment",
    ),
    path("rate/<str:token>/", views.rate, name="rate"),
]
