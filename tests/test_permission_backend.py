"""`accounts.backends.OneQueryPermissions`: the answers of Django's `ModelBackend`, in one query.

Every ticket page, list, dashboard and API request asks `has_perm` about the reader; Django's
own backend reads the user's permissions and their groups' in two queries. The backend before
it reads both in one and leaves them where `ModelBackend` looks, so the answer is the same.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.backends import OneQueryPermissions
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user read again, without the permission caches of an earlier answer."""
    return get_user_model().objects.get(pk=user.pk)


def perm(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def lead_of_groups():
    """A user with one permission of their own and two through a group, one of them shared."""
    user = UserFactory()
    user.user_permissions.add(perm("incidents", "declare_incident"))
    group = Group.objects.create(name="Ticket editors")
    group.permissions.add(perm("tickets", "change_ticket"), perm("incidents", "declare_incident"))
    user.groups.add(group)
    return user


def test_it_answers_what_model_backend_answers(lead_of_groups):
    ours = OneQueryPermissions().get_all_permissions(fresh(lead_of_groups))
    django = ModelBackend().get_all_permissions(fresh(lead_of_groups))
    assert ours == django == {"incidents.declare_incident", "tickets.change_ticket"}


def test_a_superuser_has_every_permission_and_an_inactive_user_none(lead_of_groups):
    admin = AdminFactory()
    everything = OneQueryPermissions().get_all_permissions(fresh(admin))
    assert everything == ModelBackend().get_all_permissions(fresh(admin))
    assert len(everything) == Permission.objects.count()
    lead_of_groups.is_active = False
    lead_of_groups.save()
    assert OneQueryPermissions().get_all_permissions(fresh(lead_of_groups)) == set()
    assert OneQueryPermissions().get_all_permissions(AnonymousUser()) == set()


def test_has_perm_reads_the_permissions_once_per_user_object(lead_of_groups):
    user = fresh(lead_of_groups)
    with CaptureQueriesContext(connection) as first:
        assert user.has_perm("tickets.change_ticket")
        assert user.has_perm("incidents.declare_incident")
        assert not user.has_perm("tickets.delete_ticket")
    assert len(first.captured_queries) == 1


def test_a_permission_given_later_is_seen_by_the_next_request(lead_of_groups):
    assert not fresh(lead_of_groups).has_perm("tickets.delete_ticket")
    lead_of_groups.groups.first().permissions.add(perm("tickets", "delete_ticket"))
    assert fresh(lead_of_groups).has_perm("tickets.delete_ticket")


def test_it_signs_nobody_in_but_the_next_backend_does():
    user = UserFactory()
    user.set_password("correct horse battery")
    user.save()
    assert OneQueryPermissions().authenticate(None, username=user.username, password="x") is None
    request = RequestFactory().post("/accounts/login/")
    signed_in = authenticate(request, username=user.username, password="correct horse battery")
    assert signed_in == user
