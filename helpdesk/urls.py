"""URL routes: the agent UI, Django admin, the REST API and its schema."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views
from integrations.throttles import throttled_login
from monitoring import views as monitoring_views
from notifications.language import set_language
from tickets import views as ticket_views

urlpatterns = [
    path("", ticket_views.home, name="home"),
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("login/", throttled_login(account_views.LoginView.as_view()), name="login"),
    path("login/code/", throttled_login(account_views.login_code), name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("accounts.urls")),
    path("account/tokens/", include("integrations.urls")),
    # Before Django's own: the switcher also stores a signed-in user's choice.
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("tickets/", include("tickets.urls")),
    path("escalations/", include("escalation.urls")),
    path("dashboard/", include("dashboard.urls")),
    # Before reports/: the lessons pages live under it as an app of their own.
    path("reports/lessons/", include("lessons.urls")),
    path("reports/", include("reporting.urls")),
    path("notifications/", include("notifications.urls")),
    # The knowledge base: /knowledge/ for agents, /help/ for everyone.
    path("", include("knowledge.urls")),
    path("incidents/", include("incidents.urls")),
    # The admin signs in through the same two-step login: same lock-out, same second factor.
    path(
        "admin/login/",
        throttled_login(account_views.LoginView.as_view(next_page="admin:index")),
        name="admin_login",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("mail/", include("mail.urls")),
    path("portal/", include("portal.urls")),
]

# An uncaught exception: Django's 500 page, or a 503 while the database is away.
handler500 = monitoring_views.server_error
