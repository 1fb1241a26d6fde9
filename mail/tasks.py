"""Celery tasks of the mail app: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

from mail.imap import poll_all


@shared_task(acks_late=True, ignore_result=True)
def poll_mailboxes() -> dict[str, dict[str, int] | str]:
    """Beat: fetch and process new mail of every IMAP mailbox (see helpdesk/celery.py)."""
    results = poll_all()
    return {
        address: (
            report if isinstance(report, str) else {"fetched": report.fetched, "new": report.new}
        )
        for address, report in results.items()
    }
