"""The language is stored on the user: chosen once, it holds after logging out and in again,
on every device, and the cookie follows."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from notifications.language import user_language
from notifications.models import Preference
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    user = UserFactory(username="lena")
    user.set_password("pw-lena-1234")
    user.save()
    return user


def log_in(client: Client) -> None:
    response = client.post(reverse("login"), {"username": "lena", "password": "pw-lena-1234"})
    assert response.status_code == 302


def heading(client: Client) -> str:
    return client.get(reverse("notifications:settings")).content.decode()


def test_choose_german_log_out_log_in_again_german_pages(client, user):
    log_in(client)
    response = client.post(reverse("set_language"), {"language": "de", "next": "/tickets/"})
    assert response.status_code == 302
    assert Preference.objects.get(user=user).language == "de"
    client.post(reverse("logout"))
    # A fresh browser: no language cookie at all.
    fresh = Client()
    response = fresh.post(
        reverse("login"), {"username": "lena", "password": "pw-lena-1234"}, follow=False
    )
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    fresh.cookies.pop(settings.LANGUAGE_COOKIE_NAME)  # the stored choice alone decides
    page = heading(fresh)
    assert 'lang="de"' in page
    assert "Meine Benachrichtigungseinstellungen" in page


def test_switching_back_to_english_is_kept_too(client, user):
    Preference.objects.create(user=user, language="de")
    client.force_login(user)
    assert "Meine Benachrichtigungseinstellungen" in heading(client)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert Preference.objects.get(user=user).language == "en"
    assert "My notification settings" in heading(client)


def test_the_settings_page_language_is_the_page_language(client, user):
    client.force_login(user)
    Preference.objects.create(user=user, language="de")
    assert "Meine Benachrichtigungseinstellungen" in heading(client)


def test_a_user_who_never_chose_keeps_the_cookie(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    assert "Meine Benachrichtigungseinstellungen" in heading(client)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "My notification settings" in heading(client)
    assert not Preference.objects.exists()


def test_an_anonymous_choice_is_only_a_cookie(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert not Preference.objects.exists()


def test_the_stored_language_is_one_cached_read(client, user, django_assert_num_queries):
    Preference.objects.create(user=user, language="de")
    user_language(user)  # warms the cache
    with django_assert_num_queries(0):
        assert user_language(user) == "de"
    Preference.objects.filter(user=user).update(language="en")  # no signal: still cached
    assert user_language(user) == "de"
    Preference.objects.get(user=user).save()  # a save drops the entry
    assert user_language(user) == "en"
