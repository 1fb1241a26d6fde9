"""The user's language, stored on the user (`Preference.language`) rather than only in a cookie.

Three pieces, so that a signed-in user sees their language on every device and after every
login:

- `set_language`: the header's switcher. Django's own view sets the cookie; for a signed-in
  user the choice is also saved on their preference.
- `activate_on_login`: a `user_logged_in` receiver; the first page after login is already in
  the user's language, and the cookie follows.
- `UserLanguageMiddleware` (after `AuthenticationMiddleware`): activates the stored language
  on each request of a signed-in user. One cached read; the cache entry is dropped whenever
  the preference is saved.

A user who never chose keeps what `LocaleMiddleware` found (cookie, then the browser's
Accept-Language, then `LANGUAGE_CODE`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from notifications.models import Preference

CACHE_SECONDS = 60 * 60
NONE_CHOSEN = ""  # cached for users without a preference, so that they cost no query either


def _cache_key(user: Any) -> str:
    # The join instant keeps a recreated database (ids from 1 again) off old entries.
    joined = user.date_joined.timestamp() if getattr(user, "date_joined", None) else 0
    return f"user-language:{user.pk}:{joined:.6f}"


def user_language(user: Any) -> str | None:
    """The language `user` chose (a code of `settings.LANGUAGES`), or None if they never did."""
    key = _cache_key(user)
    code = cache.get(key)
    if code is None:
        stored = Preference.objects.filter(user=user).values_list("language", flat=True).first()
        code = stored or NONE_CHOSEN
        cache.set(key, code, CACHE_SECONDS)
    return code if code in dict(settings.LANGUAGES) else None


def user_language_save(*, user: Any, language: str) -> Preference:
    """Store `language` as the language of `user` (their pages and their emails). The other
    preferences stay as they were; a user without a preference row gets one with defaults."""
    preference, _created = Preference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference


@receiver(post_save, sender=Preference)
@receiver(post_delete, sender=Preference)
def _forget_cached_language(sender: type, instance: Preference, **kwargs: Any) -> None:
    cache.delete(_cache_key(instance.user))


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's `set_language` (cookie and redirect), and for a signed-in user the choice is
    kept on their preference, so that it holds at the next login and on other devices."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_save(user=request.user, language=language)
    return response


@receiver(user_logged_in)
def activate_on_login(sender: type, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Switch to the user's language as they sign in; the middleware sets the cookie."""
    language = user_language(user)
    if language and request is not None:
        translation.activate(language)
        request.LANGUAGE_CODE = language


class UserLanguageMiddleware:
    """Activates a signed-in user's stored language and keeps the language cookie in step.
    Must come after `LocaleMiddleware` and `AuthenticationMiddleware`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = _stored_language(request)
        if language and language != translation.get_language():
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if settings.LANGUAGE_COOKIE_NAME in response.cookies:
            return response  # the switcher has just set it
        # Read again: a login during this request (the receiver above) may have changed it.
        language = _stored_language(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


def _stored_language(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user_language(user)
