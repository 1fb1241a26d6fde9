"""`Idempotency-Key` for every POST of the API.

A client that sends `Idempotency-Key: <key>` with a POST may send the same request again (a
timeout, a crash, a retry loop) and gets the first answer back instead of a second effect:

- the key, the user, the method, the path and a fingerprint of the body are stored with the
  answer's status and body (`IdempotencyKey`) for IDEMPOTENCY_KEY_TTL (24 h by default);
- the same key with the same request replays the stored answer (header `Idempotent-Replayed`);
- the same key with another request (another path or body) is a 422 problem;
- two identical requests at the same time have one effect: the first one's transaction holds
  the key's row (PostgreSQL makes the second INSERT wait for it) and the second replays the
  first's answer once it is committed;
- an answer with a server error (5xx) is not stored: the client may retry with the same key.

Expired keys are deleted when their key is used again and by the beat task
`api.tasks.purge_idempotency_keys`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.models import IdempotencyKey
from api.problems import PROBLEM_CONTENT_TYPE, problem
from api.renderers import SafeJSONRenderer

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


class Replay(Exception):
    """The request repeats one already answered (or reuses its key for another request):
    `response` is what to answer instead of running it again."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


def fingerprint(request: Request) -> str:
    """SHA-256 of the parsed body (JSON or form fields, and the uploaded files' contents), so
    that the same request sent again matches whatever its whitespace or multipart boundary."""
    digest = hashlib.sha256()
    data: Any = request.data
    if isinstance(data, QueryDict):
        data = {key: data.getlist(key) for key in sorted(data)}
    files: list[tuple[str, UploadedFile]] = []
    if isinstance(data, dict):
        plain: dict[str, Any] = {}
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            uploads = [v for v in values if isinstance(v, UploadedFile)]
            files += [(key, upload) for upload in uploads]
            if len(uploads) != len(values):
                plain[key] = [v for v in values if not isinstance(v, UploadedFile)]
                if not isinstance(value, list):
                    plain[key] = plain[key][0]
        data = plain
    digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    for key, upload in sorted(files, key=lambda pair: (pair[0], pair[1].name or "")):
        digest.update(f"\0{key}\0{upload.name}\0".encode())
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
    return digest.hexdigest()


def valid_key(raw: str) -> str:
    if len(raw) > MAX_KEY_LENGTH or not raw.isprintable():
        raise ValidationError(
            {HEADER: [_("At most %(count)d printable characters.") % {"count": MAX_KEY_LENGTH}]}
        )
    return raw


def claim(
    *, user: Any, key: str, method: str, path: str, digest: str, now: dt.datetime | None = None
) -> IdempotencyKey:
    """The key's row, locked until the request's transaction ends. Raises Replay when the key
    was answered already (with that answer, or a 422 when it was for another request).

    Must run inside the request's transaction: a concurrent request with the same key waits on
    the INSERT until this one commits (then replays its answer) or rolls back (then runs).
    A new key costs one statement (the insert, which returns the row's id and holds its
    lock); a known one a locked read more, and an expired one is deleted and inserted anew."""
    now = now or timezone.now()
    row = IdempotencyKey(
        user=user, key=key, method=method, path=path, fingerprint=digest, created_at=now
    )
    if _insert_new(row):
        return row
    existing = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
    if existing.created_at < now - ttl():
        existing.delete()
        if _insert_new(row):  # the lock on the old row made any other request wait
            return row
        existing = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
    if (existing.method, existing.path, existing.fingerprint) != (method, path, digest):
        raise Replay(
            problem(
                422,
                _(
                    "This Idempotency-Key was used for another request (%(method)s %(path)s "
                    "with another body); use a new key for a new request."
                )
                % {"method": existing.method, "path": existing.path},
            )
        )
    if existing.status is not None:
        headers = {REPLAYED_HEADER: "true"}
        content_type = PROBLEM_CONTENT_TYPE if existing.status >= 400 else None
        raise Replay(
            Response(
                existing.body, status=existing.status, headers=headers, content_type=content_type
            )
        )
    return existing


@functools.cache
def _insert_statement() -> str:
    meta = IdempotencyKey._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    columns = ", ".join(quote(f.column) for f in fields)
    unique = ", ".join(quote(meta.get_field(name).column) for name in ("user", "key"))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - the model's names
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )


def _insert_new(row: IdempotencyKey) -> bool:
    """Insert `row` unless its (user, key) exists; True (and `row` saved) if it was new. A
    concurrent insert of the same key waits here until the other transaction ends."""
    meta = IdempotencyKey._meta
    values = [
        f.get_db_prep_save(f.pre_save(row, add=True), connection)
        for f in meta.concrete_fields
        if f is not meta.pk
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_statement(), values)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk = inserted[0]
    return True


def storable(value: Any) -> Any:
    """`value` as PostgreSQL's jsonb can hold it: a problem detail may echo what the client
    sent (an unknown field's name), and jsonb refuses NUL characters and lone surrogates.
    In the stored answer a NUL becomes U+FFFD and a lone surrogate "?", so a replay shows
    those where the first answer showed the raw ones (the schema fuzzer found the 500 this
    was)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


def record(row: IdempotencyKey, response: Response, secret_fields: tuple[str, ...] = ()) -> None:
    """Store `response` as the key's answer; a server error is not kept (retry allowed).
    `secret_fields` of the body are stored as null: a secret shown once (a new token's) is
    never kept in clear text, so a replay shows it as null."""
    if response.status_code >= 500:
        row.delete()
        return
    body = None
    if response.data is not None:
        body = storable(json.loads(SafeJSONRenderer().render(response.data) or b"null"))
        if isinstance(body, dict):
            body.update({name: None for name in secret_fields if name in body})
    row.status = response.status_code
    row.body = body
    row.save(update_fields=["status", "body"])


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete the keys older than the TTL; returns how many."""
    now = now or timezone.now()
    deleted, _rows = IdempotencyKey.objects.filter(created_at__lt=now - ttl()).delete()
    return deleted


class IdempotentSchema(AutoSchema):
    """Documents the optional `Idempotency-Key` header on every POST."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="Any unique string (at most 255 characters). A retry with the "
                    "same key and body gets the first answer back (with `Idempotent-Replayed: "
                    "true`) instead of a second effect; the same key with another body is a "
                    "422. Keys are kept for 24 hours.",
                )
            )
        return parameters


class Idempotent(APIView):
    """Base of every API view that takes POSTs: a POST with an `Idempotency-Key` runs in one
    transaction that holds the key (see the module docstring)."""

    schema = IdempotentSchema()
    idempotency: IdempotencyKey | None = None
    # Fields of an answer never stored for a replay (see `record`).
    secret_fields: tuple[str, ...] = ()

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST" and request.headers.get(HEADER):
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raw = request.headers.get(HEADER)
        if request.method != "POST" or not raw or not request.user.is_authenticated:
            return
        self.idempotency = claim(
            user=request.user,
            key=valid_key(raw),
            method=request.method,
            path=request.path,
            digest=fingerprint(request),
        )

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Replay):
            self.idempotency = None
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.idempotency is not None:
            record(self.idempotency, response, self.secret_fields)
            self.idempotency = None
        return response
