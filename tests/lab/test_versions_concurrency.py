"""Two configuration changes at the same instant, on PostgreSQL, in two threads: both are made
live one after the other with distinct version numbers, and the version 1 that keeps the
configuration before the lab's first change is written once; of two drafts made from the same
configuration, the second to publish finds it stale."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from lab import versions
from lab.models import ConfigVersion
from tests.factories import AdminFactory
from tests.lab.test_versions import with_first_response

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except Exception as exc:  # reported by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_two_drafts_published_at_once_one_wins_and_the_other_is_stale():
    """Both drafts were made from the same configuration: the first to take the lock goes
    live, and the second then finds that configuration changed (it waited for the commit) and
    is refused as stale, until it is confirmed, as a distinct version."""
    root = AdminFactory(username="root")
    live = versions.live_document()
    first = versions.new_draft(name="Faster", reason="one", user=root)
    second = versions.new_draft(name="Slower", reason="two", user=root)
    first.document = with_first_response(live, "1h", "30m")
    second.document = with_first_response(live, "1h", "2h")
    first.save()
    second.save()

    outcomes = at_once(
        lambda: versions.publish(first.pk, user=root),
        lambda: versions.publish(second.pk, user=root),
    )

    assert [type(o) for o in outcomes] == [versions.Outcome, versions.Outcome], outcomes
    [won] = [o for o in outcomes if o.version is not None]
    [stale] = [o for o in outcomes if o.version is None]
    assert won.version.number == 2
    assert stale.conflict and stale.changed_since
    loser = second if outcomes[0] is won else first
    again = versions.publish(loser.pk, user=root, confirm=stale.live)
    assert again.version.number == 3
    assert list(ConfigVersion.objects.order_by("number").values_list("number", "kind")) == [
        (1, "baseline"),
        (2, "published"),
        (3, "published"),
    ]
    # The later one is live, and its version records exactly what is live.
    assert ConfigVersion.objects.get(number=3).document == versions.live_document()


def test_an_import_and_a_rollback_at_once_get_distinct_versions():
    root = AdminFactory(username="root")
    baseline_text = versions.live_document()
    changed = versions.import_document(
        with_first_response(baseline_text, "1h", "30m"), user=root, reason="", dry_run=False
    )
    assert changed.version.number == 2
    baseline = ConfigVersion.objects.get(number=1)

    outcomes = at_once(
        lambda: versions.import_document(
            with_first_response(baseline_text, "1h", "3h"), user=root, reason="", dry_run=False
        ),
        lambda: versions.rollback(baseline.pk, user=root, reason="back"),
    )

    assert [type(o) for o in outcomes] == [versions.Outcome, versions.Outcome], outcomes
    assert sorted(o.version.number for o in outcomes) == [3, 4]
    assert ConfigVersion.objects.count() == 4
    assert ConfigVersion.objects.get(number=4).document == versions.live_document()
