"""Double submit: every form the pages offer, sent twice with what the page rendered (its
version, its one-time intent token), has one effect. The second request writes no row.

The forms are found by crawling the pages (`tests/security/forms.py`), so a new form is
covered. Forms whose second submission rightly writes again are listed in REPEATS with the
reason. The concurrent case (two requests at once, on PostgreSQL):
`test_double_submit_concurrent.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import resolve

from tests.security.forms import found_forms, poster
from tests.security.probe import observe
from tests.security.world import build_world

pytestmark = pytest.mark.django_db


def _one_deflection() -> bool:
    from knowledge.models import Deflection

    return Deflection.objects.count() == 1


def _reviewed_today() -> bool:
    from django.utils import timezone

    from knowledge.models import Article

    return Article.objects.filter(last_reviewed_on=timezone.localdate()).count() == 1


def _one_usable_code() -> bool:
    from portal.models import SignInCode

    return SignInCode.objects.filter(used_at__isnull=True).count() == 1


# Forms whose repeat writes, by route name: the reason, and the check that the effect is
# still one.
REPEATS: dict[str, tuple[str, Callable[[], bool]]] = {
    # The repeat's INSERT is refused by the unique (article, session) constraint inside a
    # savepoint; PostgreSQL's statistics count the attempt. One row stays.
    "help:solved": ("one deflection per article and session", _one_deflection),
    # "Reviewed today" sets the review date to today again: the same state.
    "knowledge:reviewed": ("the review date is today either way", _reviewed_today),
    # Asking for a sign-in code again mails a new one that replaces the first (a lost mail
    # must not lock the contact out); one code is usable, and the throttle bounds repeats.
    "portal:sign_in": ("one usable code per address", _one_usable_code),
}


def test_every_form_submitted_twice_has_one_effect():
    world = build_world()
    forms = found_forms(world)
    problems: list[str] = []
    tried = effective = 0
    for path, fields in sorted(forms.items()):
        role = poster(path)
        name = resolve(path).view_name
        if role is None:
            continue
        client = world.clients[role]
        first = observe(client, "post", path, fields)
        second = observe(client, "post", path, fields)
        tried += 1
        effective += bool(first.writes)
        if first.error or second.error:
            problems.append(f"{path} ({name}): {first.error or second.error}")
        elif name in REPEATS:
            reason, one_effect = REPEATS[name]
            if not one_effect():
                problems.append(f"{path} ({name}): more than one effect ({reason})")
        elif first.writes and second.writes:
            problems.append(f"{path} ({name}) as {role}: the repeat wrote {second.writes} again")
    assert tried >= 15
    # The control: the forms were sent with what makes them act, not refused as empty.
    assert effective >= 6, f"only {effective} forms had an effect on their first submission"
    assert not problems, "\n".join(problems)
