"""Thin shared fixtures. Test tweaks to settings live here, not in a parallel settings tree."""

from __future__ import annotations

import os

import pytest

from tests.factories import AdminFactory, TeamFactory, UserFactory


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def agent(db):
    """An agent in team_a."""
    return UserFactory(username="agent")


@pytest.fixture
def team_a(db, agent):
    return TeamFactory(name="Team A", members=[agent])


@pytest.fixture
def other_agent(db):
    return UserFactory(username="other")


@pytest.fixture
def team_b(db, other_agent):
    return TeamFactory(name="Team B", members=[other_agent])


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="admin")
