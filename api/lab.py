"""The rule lab over the API, for administrators: the escalation configuration as one document
(export as YAML or JSON; import with a dry run), its versions (list, rollback), and drafts
(written as YAML, backtested in the worker, published).

Thin: the same services as the admin pages and `manage.py config` — `lab.versions` makes every
version (one lock, one numbering), the import's dry run is the one validation, and a draft is
saved through the admin's own form (`api.adminforms.save_through_admin`), so the admin and the
API refuse a document for the same problems with the same messages. A problem of a document
comes back as problem details with `errors` per path in the file (each message starting with
its line) and `problems`, the same as a list of `{path, line, message}`.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.adminforms import model_admin, require, save_through_admin
from api.idempotency import Idempotent
from api.pagination import cursor
from api.problems import problem
from api.renderers import SafeJSONRenderer
from api.serializers import StrictSerializer, validated
from lab import backtest, results, tasks, versions
from lab.config import Change, Problem, dump, export_configuration
from lab.models import BacktestRun, ConfigVersion, Draft

# The differing tickets a backtest's summary names (the admin's result page shows them all).
SUMMARY_DIFFERENCES = 20
YAML_MEDIA_TYPE = "application/yaml"


class YamlRenderer(BaseRenderer):
    """The configuration document as the YAML of `manage.py config export`; an error is still
    a problem in JSON (its content type says so)."""

    media_type = YAML_MEDIA_TYPE
    format = "yaml"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            return SafeJSONRenderer().render(data, accepted_media_type, renderer_context)
        return dump(data).encode("utf-8")


class FormatNegotiation(DefaultContentNegotiation):
    """`?format=` other than json or yaml is a 406 like an Accept header the view cannot
    answer (DRF's default is a 404, as if the document did not exist)."""

    def filter_renderers(self, renderers: list[BaseRenderer], format: str) -> list[BaseRenderer]:
        found = [renderer for renderer in renderers if renderer.format == format]
        if not found:
            raise exceptions.NotAcceptable(available_renderers=renderers)
        return found


# -- Shapes -----------------------------------------------------------------------------------


class VersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, default=None, read_only=True
    )
    restores = serializers.IntegerField(
        source="restores.number", allow_null=True, default=None, read_only=True
    )

    class Meta:
        model = ConfigVersion
        fields = ["id", "number", "kind", "reason", "created_by", "created_at", "restores"]
        read_only_fields = fields


class VersionDetailSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "document"]
        read_only_fields = fields


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The field, or an inline row: `targets[priority=1]`.")
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    section = serializers.CharField()
    key = serializers.CharField(help_text="The item's natural key (a name, a rank, a URL).")
    action = serializers.ChoiceField(choices=["added", "changed", "removed"])
    fields = FieldChangeSerializer(many=True)


class OutcomeSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    applied = serializers.BooleanField(help_text="Whether a new version was made live.")
    version = VersionSerializer(allow_null=True)
    changes = ChangeSerializer(many=True)
    recomputed = serializers.IntegerField(
        help_text="Open tickets whose SLA clocks are recomputed in the worker after the commit."
    )


def changes_data(changes: list[Change]) -> list[dict[str, Any]]:
    return [
        {
            "section": c.section,
            "key": c.key,
            "action": c.action,
            "fields": [{"field": n, "before": b, "after": a} for n, b, a in c.fields],
        }
        for c in changes
    ]


def outcome_response(outcome: versions.Outcome, *, dry_run: bool = False) -> Response:
    body = {
        "dry_run": dry_run,
        "applied": outcome.version is not None,
        "version": outcome.version,
        "changes": changes_data(outcome.changes),
        "recomputed": outcome.recomputed,
    }
    code = status.HTTP_201_CREATED if outcome.version is not None else status.HTTP_200_OK
    return Response(OutcomeSerializer(body).data, status=code)


def document_problems(text: str | None, problems: list[Problem]) -> Response:
    """A 400 problem for a refused document: messages per path (the whole file: `document`),
    each with its line when the document was sent as text."""
    located = (
        versions.locate(text, problems)
        if text is not None
        else [versions.Located(p.path, None, p.message) for p in problems]
    )
    errors: dict[str, list[str]] = {}
    for p in located:
        where = p.path or "document"
        errors.setdefault(where, []).append(
            _("Line %(line)s: %(message)s") % {"line": p.line, "message": p.message}
            if p.line is not None
            else p.message
        )
    response = problem(
        400,
        _("The configuration has %(count)s problem(s); nothing was written.")
        % {"count": len(problems)},
        errors=errors,
    )
    response.data["problems"] = [
        {"path": p.path, "line": p.line, "message": p.message} for p in located
    ]
    return response


def versioned_response(outcome: versions.Outcome, text: str) -> Response:
    """A publish's or rollback's answer: the new version (201), a 409 when there was nothing
    to do, or the document's problems (400)."""
    if outcome.conflict:
        return problem(409, "; ".join(str(p) for p in outcome.problems))
    if outcome.version is None:
        return document_problems(text, outcome.problems)
    return outcome_response(outcome)


PROBLEMS_EXAMPLE = OpenApiExample(
    "A refused document",
    status_codes=["400"],
    response_only=True,
    value={
        "type": "about:blank",
        "title": "Your request is not valid.",
        "status": 400,
        "detail": "The configuration has 1 problem(s); nothing was written.",
        "errors": {
            "sla_policies[0].targets[1].first_response": [
                "Line 41: not a duration ('soon'; write e.g. 4h, 30m, 1d2h)"
            ]
        },
        "problems": [
            {
                "path": "sla_policies[0].targets[1].first_response",
                "line": 41,
                "message": "not a duration ('soon'; write e.g. 4h, 30m, 1d2h)",
            }
        ],
    },
)
VERSION_EXAMPLE = {
    "id": 4,
    "number": 4,
    "kind": "published",
    "reason": "Faster first response for priority 2",
    "created_by": "ann",
    "created_at": "2026-12-07T10:42:00Z",
    "restores": None,
}
OUTCOME_EXAMPLE = OpenApiExample(
    "Applied as a version",
    response_only=True,
    status_codes=["201"],
    value={
        "dry_run": False,
        "applied": True,
        "version": VERSION_EXAMPLE,
        "changes": [
            {
                "section": "sla_policies",
                "key": "Standard office hours",
                "action": "changed",
                "fields": [
                    {"field": "targets[priority=2].first_response", "before": "1h", "after": "30m"}
                ],
            }
        ],
        "recomputed": 112,
    },
)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "YAML (or JSON) text"},
            {"type": "object", "additionalProperties": True},
        ]
    }
)
class DocumentField(serializers.Field):
    """A configuration document: YAML text (as exported), or the JSON export as an object."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        if isinstance(data, dict):
            # jsonb and text columns refuse NUL; the document would reach both.
            if "\\u0000" in json.dumps(data):
                raise serializers.ValidationError(_("Null characters are not allowed."))
            return data
        raise serializers.ValidationError(_("Send the YAML text or the document as an object."))

    def to_representation(self, value: Any) -> Any:
        return value


class ImportSerializer(StrictSerializer):
    document = DocumentField()
    dry_run = serializers.BooleanField(default=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RollbackSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# -- The document -----------------------------------------------------------------------------


class ConfigurationDocument(APIView):
    renderer_classes = [SafeJSONRenderer, YamlRenderer]
    content_negotiation_class = FormatNegotiation
    filter_backends: list = []

    @extend_schema(
        description="The whole escalation configuration (levels, the teams' chain, calendars, "
        "SLA policies and targets, tier targets, severity matrices, rules, message templates, "
        "webhook endpoints without their secrets, wave rules), as `manage.py config export` "
        "writes it: YAML with `Accept: application/yaml`, else the same document as JSON. "
        "Stable ordering, no database ids. Readable with the view permission of configuration "
        "versions.",
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            # The same document, written as YAML.
            (200, YAML_MEDIA_TYPE): OpenApiTypes.OBJECT,
        },
        examples=[
            OpenApiExample(
                "The document",
                response_only=True,
                media_type="application/json",
                value={
                    "support_levels": [{"rank": 1, "name": "1st level support"}],
                    "sla_policies": [
                        {
                            "name": "Standard office hours",
                            "calendar": "Office hours",
                            "targets": [{"priority": 1, "first_response": "15m"}],
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        require(model_admin(ConfigVersion).has_view_permission(request), request)
        return Response(export_configuration())


class ConfigurationImport(Idempotent):
    @extend_schema(
        description="Check a configuration document with the admin's own validation and, "
        "unless `dry_run`, apply it in one transaction as a new configuration version "
        "(kind `imported`, with who and `reason`) — `manage.py config import`. The answer "
        "lists the changes against the live configuration; a document that changes nothing "
        "makes no version (200). A refused document is a 400 with its problems per path and "
        "line; nothing is written. Superusers only.",
        request=ImportSerializer,
        responses={200: OutcomeSerializer, 201: OutcomeSerializer},
        examples=[
            OpenApiExample(
                "A dry run",
                request_only=True,
                value={
                    "document": "sla_policies:\n- name: Standard office hours\n  ...",
                    "dry_run": True,
                },
            ),
            OUTCOME_EXAMPLE,
            PROBLEMS_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        require(request.user.is_superuser, request)
        data = validated(ImportSerializer, request)
        sent = data["document"]
        text = sent if isinstance(sent, str) else dump(sent)
        outcome = versions.import_document(
            text, user=request.user, reason=data["reason"], dry_run=data["dry_run"]
        )
        if outcome.problems:
            return document_problems(text if isinstance(sent, str) else None, outcome.problems)
        return outcome_response(outcome, dry_run=data["dry_run"])


# -- Versions ---------------------------------------------------------------------------------


class VersionList(generics.ListAPIView):
    serializer_class = VersionSerializer
    pagination_class = cursor("-number")
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[ConfigVersion]:
        return ConfigVersion.objects.select_related("created_by", "restores")

    @extend_schema(
        description="Every configuration that was live, the newest first (cursor-paginated): "
        "number, kind (`baseline`, `published`, `rollback`, `imported`), who, when, why.",
        examples=[OpenApiExample("A version", response_only=True, value=VERSION_EXAMPLE)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require(model_admin(ConfigVersion).has_view_permission(request), request)
        return self.list(request)


class VersionDetail(generics.GenericAPIView):
    serializer_class = VersionDetailSerializer
    filter_backends: list = []

    @extend_schema(
        description="One version with its document (the YAML that was live).",
        examples=[
            OpenApiExample(
                "A version",
                response_only=True,
                value={**VERSION_EXAMPLE, "document": "support_levels:\n- rank: 1\n  ..."},
            )
        ],
    )
    def get(self, request: Request, pk: int) -> Response:
        require(model_admin(ConfigVersion).has_view_permission(request), request)
        version = get_object_or_404(
            ConfigVersion.objects.select_related("created_by", "restores"), pk=pk
        )
        return Response(VersionDetailSerializer(version).data)


class VersionRollback(Idempotent):
    @extend_schema(
        description="Make this version's configuration live again, as a new version that "
        "names the one it restores (the admin's rollback action). 409 when it is the live "
        "configuration already (a second submit changes nothing). Superusers only.",
        request=RollbackSerializer,
        responses={201: OutcomeSerializer},
        examples=[
            OpenApiExample("Why", request_only=True, value={"reason": "Too many escalations"}),
            OUTCOME_EXAMPLE,
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        require(model_admin(ConfigVersion).has_rollback_permission(request), request)
        target = get_object_or_404(ConfigVersion, pk=pk)
        data = validated(RollbackSerializer, request)
        reason = data["reason"] or _("Rollback to version %(number)s") % {"number": target.number}
        outcome = versions.rollback(target.pk, user=request.user, reason=reason)
        return versioned_response(outcome, target.document)


# -- Drafts -----------------------------------------------------------------------------------


class DraftSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, default=None, read_only=True
    )
    published_as = serializers.IntegerField(
        source="published_as.number", allow_null=True, default=None, read_only=True
    )
    based_on = serializers.IntegerField(
        source="based_on.number",
        allow_null=True,
        default=None,
        read_only=True,
        help_text="The newest version when the draft was made (none before the first).",
    )

    class Meta:
        model = Draft
        fields = [
            "id",
            "name",
            "reason",
            "document",
            "created_by",
            "created_at",
            "updated_at",
            "based_on",
            "published_as",
        ]
        read_only_fields = fields


class DraftWriteSerializer(serializers.Serializer):
    """For the schema only: the admin's form validates the write."""

    name = serializers.CharField(max_length=200)
    reason = serializers.CharField(required=False, allow_blank=True)
    document = serializers.CharField(
        required=False,
        help_text="The whole configuration as YAML (`GET /configuration/document/` with "
        "`Accept: application/yaml`); a new draft without it starts as the live configuration.",
    )


DRAFT_EXAMPLE = {
    "id": 3,
    "name": "Faster first response",
    "reason": "Customers ask for it",
    "document": "support_levels:\n- rank: 1\n  ...",
    "created_by": "ann",
    "created_at": "2026-12-07T09:00:00Z",
    "updated_at": "2026-12-07T09:30:00Z",
    "based_on": 3,
    "published_as": None,
}


def drafts() -> QuerySet[Draft]:
    return Draft.objects.select_related("created_by", "based_on", "published_as")


class DraftList(Idempotent, generics.ListAPIView):
    serializer_class = DraftSerializer
    pagination_class = cursor("-id")
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Draft]:
        return drafts()

    @extend_schema(
        description="The configuration drafts, the newest first (cursor-paginated).",
        examples=[OpenApiExample("A draft", response_only=True, value=DRAFT_EXAMPLE)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require(model_admin(Draft).has_view_permission(request), request)
        return self.list(request)

    @extend_schema(
        description="A new draft beside the live configuration (nothing live changes). Its "
        "document is checked by the admin's form — the import's dry run — so a refused one is "
        "a 400 with each problem under `document`, starting with its line.",
        request=DraftWriteSerializer,
        responses={201: DraftSerializer},
        examples=[
            OpenApiExample(
                "From the live configuration",
                request_only=True,
                value={"name": "Faster first response", "reason": "Customers ask for it"},
            ),
            OpenApiExample("A draft", response_only=True, value=DRAFT_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        require(model_admin(Draft).has_add_permission(request), request)
        body = request.data
        if isinstance(body, dict) and "document" not in body:
            body = {**body, "document": versions.live_document()}
        draft = save_through_admin(request, Draft, None, body)
        return Response(DraftSerializer(drafts().get(pk=draft.pk)).data, status=201)


class DraftDetail(Idempotent, generics.GenericAPIView):
    serializer_class = DraftSerializer
    filter_backends: list = []

    @extend_schema(
        description="One draft with its document.",
        examples=[OpenApiExample("A draft", response_only=True, value=DRAFT_EXAMPLE)],
    )
    def get(self, request: Request, pk: int) -> Response:
        require(model_admin(Draft).has_view_permission(request), request)
        return Response(DraftSerializer(get_object_or_404(drafts(), pk=pk)).data)

    @extend_schema(
        description="Change a draft's name, reason or document (checked as on creation). "
        "409 once it is published.",
        request=DraftWriteSerializer,
        responses=DraftSerializer,
        examples=[
            OpenApiExample("Rename", request_only=True, value={"name": "Faster, take two"}),
            OpenApiExample("A draft", response_only=True, value=DRAFT_EXAMPLE),
        ],
    )
    def patch(self, request: Request, pk: int) -> Response:
        draft = get_object_or_404(Draft, pk=pk)
        require(model_admin(Draft).has_change_permission(request, draft), request)
        if draft.published_as_id is not None:
            return problem(409, _("This draft has been published; it cannot be changed."))
        save_through_admin(request, Draft, draft, request.data)
        return Response(DraftSerializer(drafts().get(pk=pk)).data)


class PublishSerializer(StrictSerializer):
    confirm_live = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Publish a draft made from an older configuration anyway: the `live` "
        "fingerprint of the 409 answer that listed what went live since.",
    )


STALE_EXAMPLE = OpenApiExample(
    "A draft made from an older configuration",
    status_codes=["409"],
    response_only=True,
    value={
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "This draft was made from an older configuration: 1 change(s) went live "
        "since, and publishing it would undo them. Check them, then confirm to publish anyway.",
        "based_on": 3,
        "live": "5d41402abc4b2a76",
        "changed_since": [
            {
                "section": "escalation_rules",
                "key": "No progress",
                "action": "changed",
                "fields": [{"field": "threshold", "before": "8h", "after": "4h"}],
            }
        ],
    },
)


class DraftPublish(Idempotent):
    @extend_schema(
        description="Make the draft live in one transaction as a new configuration version "
        "(who, when, the draft's reason); the SLA clocks of open tickets are recomputed in "
        "the worker when calendars, policies or the severity matrix changed. 409 when it is "
        "published already, or when it was made from an older configuration: the answer lists "
        "what went live since (`changed_since`, which publishing would undo) and the live "
        "configuration's fingerprint (`live`); send that as `confirm_live` to publish anyway. "
        "A document the import refuses now is a 400 with its problems.",
        request=PublishSerializer,
        responses={201: OutcomeSerializer},
        examples=[OUTCOME_EXAMPLE, PROBLEMS_EXAMPLE, STALE_EXAMPLE],
    )
    def post(self, request: Request, pk: int) -> Response:
        draft = get_object_or_404(Draft.objects.select_related("based_on"), pk=pk)
        require(model_admin(Draft).has_change_permission(request, draft), request)
        data = validated(PublishSerializer, request)
        outcome = versions.publish(draft.pk, user=request.user, confirm=data["confirm_live"])
        response = versioned_response(outcome, draft.document)
        if outcome.changed_since:
            response.data["based_on"] = draft.based_on.number if draft.based_on else None
            response.data["live"] = outcome.live
            response.data["changed_since"] = changes_data(outcome.changed_since)
        return response


# -- Backtests --------------------------------------------------------------------------------


class BacktestStartSerializer(StrictSerializer):
    days = serializers.IntegerField(min_value=1, max_value=3650, default=90)


class DraftProblemSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class TotalsSerializer(serializers.Serializer):
    escalations = serializers.IntegerField()
    warnings = serializers.IntegerField()
    breaches = serializers.IntegerField()


class DifferenceSerializer(serializers.Serializer):
    reference = serializers.CharField()
    parting = serializers.CharField(help_text="The first instant where the courses part.")


class SummarySerializer(serializers.Serializer):
    live = TotalsSerializer()
    draft = TotalsSerializer()
    days = serializers.IntegerField(help_text="Days with anything to count.")
    differing = serializers.IntegerField(help_text="Tickets whose course differs.")
    differences = DifferenceSerializer(
        many=True, help_text=f"The first {SUMMARY_DIFFERENCES} of them."
    )


class BacktestSerializer(serializers.ModelSerializer):
    draft = serializers.IntegerField(source="draft_id", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    problems = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    result_page = serializers.SerializerMethodField()

    class Meta:
        model = BacktestRun
        fields = [
            "id",
            "draft",
            "days",
            "since",
            "until",
            "status",
            "total",
            "done",
            "percent",
            "cancel_requested",
            "problems",
            "summary",
            "result_page",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DraftProblemSerializer(many=True))
    def get_problems(self, run: BacktestRun) -> list[dict[str, str]]:
        """Why a run failed: the problems of the draft's document."""
        return [{"path": path_, "message": message} for path_, message in run.problems]

    @extend_schema_field(SummarySerializer(allow_null=True))
    def get_summary(self, run: BacktestRun) -> dict[str, Any] | None:
        if run.status != BacktestRun.Status.DONE or not run.result:
            return None
        return {
            **results.totals(run.result),
            "days": len(run.result.get("days", [])),
            "differing": run.result.get("differing", 0),
            "differences": [
                {"reference": d["reference"], "parting": results.parting(d)}
                for d in run.result.get("differences", [])[:SUMMARY_DIFFERENCES]
            ],
        }

    @extend_schema_field(OpenApiTypes.STR)
    def get_result_page(self, run: BacktestRun) -> str:
        """The admin's page of the run: every day, team and differing ticket side by side."""
        return reverse("admin:lab_backtestrun_change", args=[run.pk])


BACKTEST_EXAMPLE = {
    "id": 12,
    "draft": 3,
    "days": 90,
    "since": "2026-09-08T10:00:00Z",
    "until": "2026-12-07T10:00:00Z",
    "status": "running",
    "total": 18000,
    "done": 6000,
    "percent": 33,
    "cancel_requested": False,
    "problems": [],
    "summary": None,
    "result_page": "/admin/lab/backtestrun/12/change/",
    "created_at": "2026-12-07T10:00:00Z",
    "finished_at": None,
}


def backtest_response(request: Request, run: BacktestRun, code: int = 200) -> Response:
    location = request.build_absolute_uri(reverse("api:lab-backtest", args=[run.pk]))
    return Response(BacktestSerializer(run).data, status=code, headers={"Location": location})


class BacktestStart(Idempotent):
    @extend_schema(
        description="Replay the tickets of the last `days` (default 90) under the live "
        "configuration and this draft, in the worker. 202 with the run; its URL (`Location`) "
        "gives the progress and, once done, the summary.",
        request=BacktestStartSerializer,
        responses={202: BacktestSerializer},
        examples=[
            OpenApiExample("A quarter", request_only=True, value={"days": 90}),
            OpenApiExample(
                "Queued", response_only=True, status_codes=["202"], value=BACKTEST_EXAMPLE
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        draft = get_object_or_404(Draft, pk=pk)
        require(model_admin(Draft).has_change_permission(request, draft), request)
        data = validated(BacktestStartSerializer, request)
        run = backtest.start(draft_id=draft.pk, days=data["days"], user=request.user)
        transaction.on_commit(lambda: tasks.run_backtest.delay(run.pk))
        return backtest_response(request, run, status.HTTP_202_ACCEPTED)


class BacktestDetail(generics.GenericAPIView):
    serializer_class = BacktestSerializer
    filter_backends: list = []

    @extend_schema(
        description="A backtest: its status (`queued`, `running`, `done`, `cancelled`, "
        "`failed`), progress (`done` of `total` tickets), the draft's problems when it failed, "
        "and once done a summary: escalations, SLA warnings and breaches live and in the "
        "draft, and the first tickets whose course differs.",
        examples=[OpenApiExample("Running", response_only=True, value=BACKTEST_EXAMPLE)],
    )
    def get(self, request: Request, pk: int) -> Response:
        require(model_admin(BacktestRun).has_view_permission(request), request)
        run = get_object_or_404(BacktestRun, pk=pk)
        return Response(BacktestSerializer(run).data)


class BacktestCancel(Idempotent):
    @extend_schema(
        description="Ask a queued or running backtest to stop: the worker stops after its "
        "current batch (202). 409 when it has finished.",
        request=None,
        responses={202: BacktestSerializer},
        examples=[
            OpenApiExample(
                "Stopping", response_only=True, status_codes=["202"], value=BACKTEST_EXAMPLE
            )
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        require(model_admin(Draft).has_change_permission(request), request)
        run = get_object_or_404(BacktestRun, pk=pk)
        if not backtest.cancel(run.pk):
            return problem(409, _("This backtest has finished."))
        run.refresh_from_db()
        return backtest_response(request, run, status.HTTP_202_ACCEPTED)


PREFIX = "configuration"

urlpatterns = [
    path(f"{PREFIX}/document/", ConfigurationDocument.as_view(), name="lab-document"),
    path(f"{PREFIX}/import/", ConfigurationImport.as_view(), name="lab-import"),
    path(f"{PREFIX}/versions/", VersionList.as_view(), name="lab-versions"),
    path(f"{PREFIX}/versions/<int:pk>/", VersionDetail.as_view(), name="lab-version"),
    path(
        f"{PREFIX}/versions/<int:pk>/rollback/",
        VersionRollback.as_view(),
        name="lab-rollback",
    ),
    path(f"{PREFIX}/drafts/", DraftList.as_view(), name="lab-drafts"),
    path(f"{PREFIX}/drafts/<int:pk>/", DraftDetail.as_view(), name="lab-draft"),
    path(f"{PREFIX}/drafts/<int:pk>/publish/", DraftPublish.as_view(), name="lab-publish"),
    path(f"{PREFIX}/drafts/<int:pk>/backtests/", BacktestStart.as_view(), name="lab-backtests"),
    path(f"{PREFIX}/backtests/<int:pk>/", BacktestDetail.as_view(), name="lab-backtest"),
    path(f"{PREFIX}/backtests/<int:pk>/cancel/", BacktestCancel.as_view(), name="lab-cancel"),
]
