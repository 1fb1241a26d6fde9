"""Upload limits: the request is cut off while it streams in (helpdesk/uploads.py), with a
form error and nothing stored; the services check files per message, file size and the
ticket's total for every way in; stored files are not world-readable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.uploads import UploadLimitHandler
from tests.tickets.test_views import new_ticket
from tickets import services
from tickets.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db
KIB = 1024


@pytest.fixture
def ticket(agent, team_a) -> Ticket:
    return new_ticket(agent, team_a, subject="Mail server down")


def limit_handler(response) -> UploadLimitHandler:
    (handler,) = [
        h for h in response.wsgi_request.upload_handlers if isinstance(h, UploadLimitHandler)
    ]
    return handler


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_a_request_over_the_cap_is_stopped_before_its_files_are_read(
    agent_client, team_a, settings
):
    settings.UPLOAD_MAX_REQUEST_BYTES = 256 * KIB
    files = [SimpleUploadedFile(f"part{i}.bin", b"x" * 100 * KIB) for i in range(3)]
    response = agent_client.post(
        reverse("tickets:create"),
        {"subject": "Logs", "team": team_a.pk, "impact": 3, "urgency": 3, "channel": "phone"}
        | {"attachments": files},
    )
    assert response.status_code == 422
    assert "The upload is larger than 256.0\xa0KB in total; nothing was saved." in response.text
    assert "Logs" in response.text  # what was typed is kept
    # The body was 300 KiB and more: the handler let none of the files through to storage.
    assert limit_handler(response).received == 0
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(settings) == []


def test_a_file_over_the_limit_is_stopped_while_it_streams(agent_client, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 100 * KIB
    big = SimpleUploadedFile("dump.bin", b"x" * 1024 * KIB)
    response = agent_client.post(
        reverse("tickets:message", args=[ticket.reference]),
        {"body": "Here is the dump.", "attachments": [big]},
    )
    assert response.status_code == 422
    assert "dump.bin is larger than the limit of 100.0\xa0KB; nothing was saved." in response.text
    # Stopped at the limit: about one chunk past 100 KiB of the 1 MiB file went by.
    handler = limit_handler(response)
    assert 100 * KIB < handler.received < 1024 * KIB
    assert handler.received <= 100 * KIB + handler.chunk_size
    assert not Message.objects.exists()
    assert stored_files(settings) == []


def test_too_many_files_at_once_is_a_form_error(agent_client, ticket, settings):
    settings.ATTACHMENT_MAX_FILES = 2
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(3)]
    response = agent_client.post(
        reverse("tickets:message", args=[ticket.reference]),
        {"body": "Three logs.", "attachments": files},
    )
    assert response.status_code == 422
    assert "At most 2 files can be attached at once; nothing was saved." in response.text
    assert limit_handler(response).files == 3
    assert not Message.objects.exists()
    assert stored_files(settings) == []


def test_within_the_limits_the_files_are_stored(agent_client, ticket, settings):
    settings.ATTACHMENT_MAX_FILES = 2
    settings.UPLOAD_MAX_REQUEST_BYTES = 64 * KIB
    files = [SimpleUploadedFile(f"f{i}.txt", b"x" * KIB) for i in range(2)]
    response = agent_client.post(
        reverse("tickets:message", args=[ticket.reference]),
        {"body": "Two logs.", "attachments": files},
    )
    assert response.status_code == 302
    assert limit_handler(response).refusal is None
    assert sorted(a.original_name for a in Attachment.objects.all()) == ["f0.txt", "f1.txt"]


class TestServiceLimits:
    """The same limits for every way in (API, admin, imports), as a field error."""

    def reply(self, ticket, agent, *files):
        return services.ticket_reply(
            ticket=ticket, actor=agent, body="Files.", attachments=list(files)
        )

    def test_the_ticket_total_is_capped(self, ticket, agent, settings):
        settings.TICKET_ATTACHMENTS_MAX_BYTES = 1000
        self.reply(ticket, agent, SimpleUploadedFile("a.txt", b"x" * 600))
        with pytest.raises(services.TicketError) as error:
            self.reply(ticket, agent, SimpleUploadedFile("b.txt", b"x" * 500))
        assert error.value.message_dict["attachments"] == [
            "This ticket's attachments would exceed 1000\xa0bytes in total; nothing was saved."
        ]
        assert list(Attachment.objects.values_list("original_name", flat=True)) == ["a.txt"]
        assert Message.objects.filter(body="Files.").count() == 1
        assert len(stored_files(settings)) == 1
        self.reply(ticket, agent, SimpleUploadedFile("c.txt", b"x" * 400))  # exactly the cap

    def test_files_per_message_and_file_size(self, ticket, agent, settings):
        settings.ATTACHMENT_MAX_FILES = 1
        settings.ATTACHMENT_MAX_BYTES = 10
        with pytest.raises(services.TicketError) as error:
            self.reply(ticket, agent, SimpleUploadedFile("a", b"x"), SimpleUploadedFile("b", b"y"))
        assert "At most 1 files" in error.value.message_dict["attachments"][0]
        with pytest.raises(services.TicketError) as error:
            self.reply(ticket, agent, SimpleUploadedFile("big.bin", b"x" * 11))
        assert "big.bin is larger than the limit" in error.value.message_dict["attachments"][0]
        assert not Attachment.objects.exists()


def test_stored_files_are_0640_in_folders_0750(ticket, agent, settings):
    message = services.ticket_reply(
        ticket=ticket,
        actor=agent,
        body="Log.",
        attachments=[SimpleUploadedFile("log.txt", b"ok")],
    )
    path = Path(message.attachments.get().file.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o750
