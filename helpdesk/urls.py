"""URL routes: the agent UI, Django admin, the REST API and its schema."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from notifications.language import set_language
from tickets import views as ticket_views

urlpatterns = [
    path("", ticket_views.home, name="home"),
    path("healthz", ticket_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before Django's own: the switcher also stores a signed-in user's choice.
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("tickets/", include("tickets.urls")),
    path("escalations/", include("escalation.urls")),
    path("notifications/", include("notifications.urls")),
    path("admin/", admin.site.urls),
]
