"""My notification settings: the page, saving through `preferences_update`, and `notify()`
honouring what was saved."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.models import ChannelPreference, Delivery, Notification, Preference
from notifications.services import notify
from sla.models import BusinessCalendar
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/notifications/settings/"
K = Notification.Kind


@pytest.fixture
def user():
    return UserFactory(username="carla")


@pytest.fixture
def user_client(client, user) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def calendar():
    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="Office Berlin", defaults={"timezone": "Europe/Berlin"}
    )
    return calendar


def form_data(**overrides) -> dict[str, str]:
    """What the browser sends for the defaults: every kind in the app, email as
    `DEFAULT_CHANNELS` says (a ticked checkbox sends "on", an unticked one nothing)."""
    data = {"language": "en", "timezone": "Europe/Berlin", "calendar": ""}
    for kind in K.values:
        data[f"in_app__{kind}"] = "on"
        if kind not in (K.ESCALATION_ACKNOWLEDGED, K.RULE_FIRED):
            data[f"email__{kind}"] = "on"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_route():
    assert reverse("notifications:settings") == URL


@pytest.mark.parametrize("method", ["get", "post"])
def test_login_required(client, method):
    response = getattr(client, method)(URL, form_data())
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert not Preference.objects.exists()


def test_the_user_menu_links_to_it(user_client):
    page = user_client.get(reverse("notifications:list"))
    assert f'href="{URL}"'.encode() in page.content


def test_a_user_who_never_saved_sees_the_defaults_and_nothing_is_written(user_client, calendar):
    page = user_client.get(URL)
    assert page.status_code == 200
    form = page.context["form"]
    assert form["language"].value() == "en"
    assert form["timezone"].value() == "Europe/Berlin"
    assert form["calendar"].value() is None
    # The defaults `notify()` uses: acknowledgements and rule notices only in the app.
    assert form[f"email__{K.TICKET_ASSIGNED}"].value() is True
    assert form[f"email__{K.ESCALATION_ACKNOWLEDGED}"].value() is False
    assert form[f"email__{K.RULE_FIRED}"].value() is False
    assert all(form[f"in_app__{kind}"].value() for kind in K.values)
    html = page.content.decode()
    assert re.search(r'<input[^>]*name="email__ticket_assigned"[^>]*checked', html)
    assert not re.search(r'<input[^>]*name="email__escalation_acknowledged"[^>]*checked', html)
    assert '<option value="Europe/Berlin" selected>' in html
    assert "Office Berlin" in html
    assert "These pages and the emails to you are in this language" in html
    assert not Preference.objects.exists()
    assert not ChannelPreference.objects.exists()


def test_saving_writes_the_rows_and_notify_respects_them(user_client, user, calendar):
    data = form_data(
        language="de",
        timezone="Europe/London",
        calendar=str(calendar.pk),
        **{f"email__{K.TICKET_ASSIGNED}": None, f"email__{K.ESCALATION_ACKNOWLEDGED}": "on"},
    )
    response = user_client.post(URL, data, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "Your notification settings have been saved." in response.content.decode()

    preference = Preference.objects.get(user=user)
    assert (preference.language, preference.timezone, preference.calendar) == (
        "de",
        "Europe/London",
        calendar,
    )
    rows = {c.kind: (c.in_app, c.email) for c in ChannelPreference.objects.all()}
    assert set(rows) == set(K.values)
    assert rows[K.TICKET_ASSIGNED] == (True, False)
    assert rows[K.ESCALATION_ACKNOWLEDGED] == (True, True)
    # The page now shows what was saved.
    form = user_client.get(URL).context["form"]
    assert form[f"email__{K.TICKET_ASSIGNED}"].value() is False

    now = timezone.now()
    for kind in (K.TICKET_ASSIGNED, K.ESCALATION_ACKNOWLEDGED):
        notify([user], kind=kind, ticket=None, cause=f"test:{kind}", payload={}, now=now)
    # Email off → the app only; email on (against the default) → an email in the outbox.
    assert set(Notification.objects.filter(user=user).values_list("kind", flat=True)) == {
        K.TICKET_ASSIGNED,
        K.ESCALATION_ACKNOWLEDGED,
    }
    emails = Delivery.objects.filter(user=user, channel=Delivery.Channel.EMAIL)
    assert list(emails.values_list("kind", flat=True)) == [K.ESCALATION_ACKNOWLEDGED]


def test_in_app_off_writes_no_notification(user_client, user):
    user_client.post(URL, form_data(**{f"in_app__{K.SLA_WARNING}": None}))
    notify([user], kind=K.SLA_WARNING, ticket=None, cause="x", payload={}, now=timezone.now())
    assert not Notification.objects.filter(user=user).exists()
    assert Delivery.objects.filter(user=user, kind=K.SLA_WARNING).count() == 1


def test_saving_again_updates_the_rows_in_place(user_client, user):
    user_client.post(URL, form_data())
    user_client.post(URL, form_data(**{f"in_app__{K.SLA_BREACH}": None}))
    assert Preference.objects.count() == 1
    assert ChannelPreference.objects.count() == len(K.values)
    assert ChannelPreference.objects.get(kind=K.SLA_BREACH).in_app is False
    # Back to "send at once".
    assert Preference.objects.get().calendar is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("timezone", "Mars/Olympus_Mons", "Unknown time zone"),
        ("timezone", "", "This field is required."),
        ("language", "fr", "Select a valid choice."),
        ("calendar", "999999", "Select a valid choice."),
    ],
)
def test_invalid_input_is_a_form_error_and_saves_nothing(user_client, field, value, error):
    response = user_client.post(URL, form_data(**{field: value}))
    assert response.status_code == 422
    assert response.context["form"].errors[field]
    html = response.content.decode()
    assert error in html
    assert "is-invalid" in html
    assert not Preference.objects.exists()
    assert not ChannelPreference.objects.exists()


def test_a_hostile_time_zone_is_escaped_not_offered(user_client):
    response = user_client.post(URL, form_data(timezone="<script>alert(1)</script>"))
    assert response.status_code == 422
    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html  # in the error message, escaped


def test_a_zone_outside_the_common_list_is_kept(user_client, user):
    user_client.post(URL, form_data(timezone="America/Lima"))
    assert Preference.objects.get(user=user).timezone == "America/Lima"
    assert '<option value="America/Lima" selected>' in user_client.get(URL).content.decode()


def test_csrf_is_enforced(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(URL, form_data()).status_code == 403
    assert not Preference.objects.exists()


def test_the_page_in_german(user_client):
    user_client.post(reverse("set_language"), {"language": "de", "next": URL})
    page = user_client.get(URL)
    assert page.status_code == 200
    assert '<html lang="de">' in page.content.decode()
    # The switcher's choice is the user's language: the pages' and the emails'.
    assert page.context["form"]["language"].value() == "de"
