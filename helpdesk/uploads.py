"""Upload limits enforced while the request streams in, before anything reaches the disk.

Django checks a file's size only once the whole request has been received and stored in
temporary files; with 100 files a request that could be about 1 GiB for any agent.
`UploadLimitHandler` runs first among FILE_UPLOAD_HANDLERS and stops the upload (StopUpload)
as soon as the request is known to be too large (its Content-Length, or the bytes received),
a file is larger than ATTACHMENT_MAX_BYTES, or more than ATTACHMENT_MAX_FILES files arrive.
Nothing more of the files is stored; the files received so far are closed and dropped; the
rest of the body is read and discarded (so that the browser receives the answer rather than
a reset connection), and the view shows `refusal(request)` as a form error.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _


class UploadLimitHandler(FileUploadHandler):
    """Counts the files and bytes of a multipart request and stops it at the first limit;
    passes every chunk on unchanged to the handlers that store it."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.request_length = 0  # the Content-Length (the base class keeps a per-file one)
        self.files = 0
        self.received = 0  # file bytes passed on, over all files
        self.file_received = 0  # of the current file
        self.refusal: str | None = None

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> None:
        self.request_length = content_length

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self.files += 1
        self.file_received = 0
        if self.request_length > settings.UPLOAD_MAX_REQUEST_BYTES:
            self.refuse(too_large_message())
        if self.files > settings.ATTACHMENT_MAX_FILES:
            self.refuse(too_many_message())

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        self.file_received += len(raw_data)
        if self.file_received > settings.ATTACHMENT_MAX_BYTES:
            self.refuse(file_too_large_message(self.file_name or ""))
        if self.received > settings.UPLOAD_MAX_REQUEST_BYTES:
            self.refuse(too_large_message())
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file

    def refuse(self, message: str) -> None:
        self.refusal = message
        # connection_reset=False: Django reads the rest of the body without storing it.
        raise StopUpload(connection_reset=False)


def refusal(request: HttpRequest) -> str | None:
    """Why the upload of `request` was stopped, or None. Read it after the body was parsed
    (request.POST / request.FILES), as forms do."""
    for handler in request.upload_handlers:
        if isinstance(handler, UploadLimitHandler) and handler.refusal:
            return handler.refusal
    return None


def too_large_message() -> str:
    return _("The upload is larger than %(limit)s in total; nothing was saved.") % {
        "limit": filesizeformat(settings.UPLOAD_MAX_REQUEST_BYTES)
    }


def too_many_message() -> str:
    return _("At most %(count)d files can be attached at once; nothing was saved.") % {
        "count": settings.ATTACHMENT_MAX_FILES
    }


def file_too_large_message(name: str) -> str:
    return _("%(name)s is larger than the limit of %(limit)s; nothing was saved.") % {
        "name": name,
        "limit": filesizeformat(settings.ATTACHMENT_MAX_BYTES),
    }


def download_response(handle: Any, filename: str) -> FileResponse:
    """An uploaded file as a download, never rendered inline: an uploaded HTML or SVG file
    must not run in our origin (the browser's and the API's downloads alike)."""
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
