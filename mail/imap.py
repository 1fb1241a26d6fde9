"""Polling a mailbox over IMAP (imap-tools): unseen messages are fetched without marking
them, stored and processed (`mail_receive`), and only then flagged as seen. A poll that dies
half-way loses nothing: what was not flagged is fetched again, and the Message-ID keeps it
from being processed twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools import MailMessageFlags as Flags

from mail.models import Mailbox
from mail.services import mail_receive

logger = logging.getLogger(__name__)


class RawMessage(MailMessage):
    """imap-tools' message, keeping the exact bytes the server sent (stored for audit)."""

    def __init__(self, fetch_data: list) -> None:
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


@dataclass
class PollReport:
    fetched: int = 0
    new: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def connect(mailbox: Mailbox) -> BaseMailBox:
    """A logged-in imap-tools client for `mailbox` (password from its environment variable)."""
    timeout = settings.MAIL_IMAP_TIMEOUT
    security = Mailbox.Security
    client: BaseMailBox
    if mailbox.imap_security == security.SSL:
        client = MailBox(mailbox.imap_host, mailbox.imap_port, timeout=timeout)
    elif mailbox.imap_security == security.STARTTLS:
        client = MailBoxStartTls(mailbox.imap_host, mailbox.imap_port, timeout=timeout)
    else:
        client = MailBoxUnencrypted(mailbox.imap_host, mailbox.imap_port, timeout=timeout)
    client.email_message_class = RawMessage
    password = mailbox.secret(mailbox.imap_password_env)
    return client.login(mailbox.imap_username, password, initial_folder=mailbox.imap_folder)


def poll(mailbox: Mailbox, *, now: datetime | None = None, batch: int | None = None) -> PollReport:
    """Fetch up to `batch` unseen messages of `mailbox` and receive each. Raises the IMAP
    client's errors (the caller records them on the mailbox)."""
    batch = batch or settings.MAIL_POLL_BATCH
    report = PollReport()
    with connect(mailbox) as client:
        for message in client.fetch(AND(seen=False), mark_seen=False, limit=batch, bulk=50):
            assert isinstance(message, RawMessage)
            report.fetched += 1
            inbound, created = mail_receive(mailbox=mailbox, raw=message.raw, now=now)
            report.new += created
            report.outcomes[inbound.outcome] = report.outcomes.get(inbound.outcome, 0) + 1
            if message.uid:
                client.flag(message.uid, Flags.SEEN, True)
    return report


def poll_all(*, now: datetime | None = None) -> dict[str, PollReport | str]:
    """Poll every active mailbox with an IMAP host; a failing mailbox is recorded on its row
    (`last_poll_error`) and does not stop the others."""
    results: dict[str, PollReport | str] = {}
    for mailbox in (
        Mailbox.objects.filter(is_active=True).exclude(imap_host="").select_related("team")
    ):
        started = timezone.now()
        try:
            results[mailbox.address] = poll(mailbox, now=now)
            error = ""
        except Exception as exc:  # IMAP, network, TLS: the same for us; kept for the admin
            logger.warning("Polling %s failed: %s", mailbox.address, exc)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            results[mailbox.address] = error
        Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=started, last_poll_error=error)
    return results
