"""A permission backend that reads a user's permissions in one query, not two.

Django's `ModelBackend` reads a user's own permissions and their groups' permissions in two
queries the first time `has_perm` is asked about a user object. Every ticket page asks
(`visible_to`: "may this user see every ticket?"), and so do the list, the dashboard and the
API. `OneQueryPermissions` comes before `ModelBackend` in `AUTHENTICATION_BACKENDS`: it reads
both sets in one query and keeps them where `ModelBackend` keeps them (`_perm_cache` on the
user object, for the rest of the request), so that `ModelBackend`, asked next, answers from
that without a query of its own. It answers what `ModelBackend` answers: the user's own and
their groups' permissions (every permission for a superuser), none for an inactive or
anonymous user. It signs nobody in (`authenticate` is `ModelBackend`'s, next in the list, so
the sessions made before this backend was added stay valid); a session that names it (the test
client's `force_login` picks the first backend that can restore users) is restored as
`ModelBackend` restores it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Permission
from django.db.models import Q


class OneQueryPermissions(ModelBackend):
    """`get_all_permissions` (and so `has_perm`) in one query (see the module docstring)."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> None:
        return None  # signing in is `ModelBackend`'s

    def get_all_permissions(
        self, user_obj: AbstractBaseUser | AnonymousUser, obj: Any = None
    ) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = permission_names(user_obj)  # type: ignore[union-attr]
        return user_obj._perm_cache  # type: ignore[union-attr]


def permission_names(user: Any) -> set[str]:
    """Every permission of `user` as "app_label.codename": their own and their groups' (all
    of them for a superuser), in one query."""
    if user.is_superuser:
        perms = Permission.objects.all()
    else:
        from_groups = Permission.objects.filter(group__in=user.groups.all()).values("pk")
        perms = Permission.objects.filter(
            Q(pk__in=user.user_permissions.values("pk")) | Q(pk__in=from_groups)
        )
    rows = perms.values_list("content_type__app_label", "codename").order_by()
    return {f"{app_label}.{codename}" for app_label, codename in rows}
