"""The rule lab in the admin: drafts edited as YAML (checked with the import's validation, each
problem shown with its line), published as versions; versions rolled back to in one action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lab import backtest, results, tasks, versions
from lab.models import BacktestRun, ConfigVersion, Draft


class DraftForm(forms.ModelForm):
    class Meta:
        model = Draft
        fields = ["name", "reason", "document"]
        widgets = {
            "document": forms.Textarea(
                attrs={"rows": 40, "cols": 100, "spellcheck": "false", "class": "vLargeTextField"}
            )
        }

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_document(self) -> str:
        text = self.cleaned_data["document"]
        _changes, problems = versions.check_document(text, self.user)
        if problems:
            raise forms.ValidationError(
                [versions.problem_text(text, problem) for problem in problems], code="invalid"
            )
        return text


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    form = DraftForm
    list_display = ["name", "created_by", "created_at", "updated_at", "published_as"]
    list_select_related = ["created_by", "published_as"]
    readonly_fields = ["created_by", "created_at", "based_on", "published_as"]
    actions = ["publish", "run_backtest"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithUser(form):  # the validation's dry run names the acting admin
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, user=request.user, **kw)

        return WithUser

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("document", versions.live_document())
        return initial

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and obj.published_as_id is not None:
            return [*self.readonly_fields, "name", "reason", "document"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Draft, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
            versions.stamp_base(obj)
        super().save_model(request, obj, form, change)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        """The draft's differences from the live configuration, above its form (a dry run of
        the import as the viewing admin)."""
        draft = self.get_object(request, object_id)
        if draft is not None and request.method == "GET":
            changes, problems = versions.check_document(draft.document, request.user)
            extra_context = {
                **(extra_context or {}),
                "differences": [line for change in changes for line in change.lines()],
                "problem_count": len(problems),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=gettext_lazy("Publish the selected draft"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one draft to publish."), messages.ERROR)
            return None
        draft = queryset.get()
        outcome = versions.publish(
            draft.pk, user=request.user, confirm=request.POST.get("confirm_live", "")
        )
        if outcome.changed_since:
            # A stale draft: what went live since, and a button to publish it anyway.
            return TemplateResponse(
                request,
                "lab/publish_stale.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": _("Publish %(draft)s over newer changes?") % {"draft": draft},
                    "draft": draft,
                    "message": outcome.problems[0].message,
                    "differences": [line for c in outcome.changed_since for line in c.lines()],
                    "live": outcome.live,
                },
            )
        report_outcome(self, request, outcome)
        return None

    @admin.action(
        description=gettext_lazy("Backtest the selected draft over the last 90 days"),
        permissions=["change"],
    )
    def run_backtest(self, request: HttpRequest, queryset: QuerySet):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one draft."), messages.ERROR)
            return None
        run = backtest.start(draft_id=queryset.get().pk, days=90, user=request.user)
        transaction.on_commit(lambda: tasks.run_backtest.delay(run.pk))
        return redirect("admin:lab_backtestrun_change", run.pk)


def report_outcome(model_admin: Any, request: HttpRequest, outcome: versions.Outcome) -> None:
    if outcome.version is None:
        for problem in outcome.problems:
            model_admin.message_user(request, str(problem), messages.ERROR)
        return
    model_admin.message_user(
        request,
        _("The configuration is live as version %(number)s (%(count)s change(s)).")
        % {"number": outcome.version.number, "count": len(outcome.changes)},
        messages.SUCCESS,
    )
    if outcome.recomputed:
        model_admin.message_user(
            request,
            _("The SLA clocks of %(count)s open ticket(s) are recomputed in the background.")
            % {"count": outcome.recomputed},
            messages.INFO,
        )


@admin.register(ConfigVersion)
class ConfigVersionAdmin(admin.ModelAdmin):
    """Every configuration that was live, newest first; read-only but for the rollback."""

    list_display = ["number", "kind", "created_by", "created_at", "restores", "reason"]
    list_select_related = ["created_by", "restores"]
    readonly_fields = ["number", "kind", "created_by", "created_at", "restores", "reason"]
    fields = [*readonly_fields, "document"]
    actions = ["roll_back"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_rollback_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.fields

    @admin.action(
        description=gettext_lazy("Roll back to the selected version"), permissions=["rollback"]
    )
    def roll_back(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        target = queryset.get()
        outcome = versions.rollback(
            target.pk,
            user=request.user,
            reason=_("Rollback to version %(number)s") % {"number": target.number},
        )
        report_outcome(self, request, outcome)


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    """The backtests: progress while they run (the page reloads itself), cancel, the result."""

    list_display = ["draft", "since", "until", "status", "progress", "created_by", "created_at"]
    list_select_related = ["draft", "created_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj: BacktestRun) -> str:
        return _("%(done)s of %(total)s tickets (%(percent)s %%)") % {
            "done": obj.done,
            "total": obj.total,
            "percent": obj.percent,
        }

    def get_urls(self):
        return [
            path(
                "<int:pk>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="lab_backtestrun_cancel",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        if not self.has_view_permission(request):
            return super().change_view(request, object_id, form_url, extra_context)
        run = get_object_or_404(BacktestRun.objects.select_related("draft"), pk=object_id)
        days = run.result.get("days", [])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Backtest of %(draft)s") % {"draft": run.draft},
            "run": run,
            "running": run.status in (BacktestRun.Status.QUEUED, BacktestRun.Status.RUNNING),
            "may_cancel": self.may_cancel(request, run),
            "totals": results.totals(run.result) if run.result else None,
            "waves": results.wave_totals(run.result) if run.result else None,
            "days": [
                {
                    "day": day["day"],
                    "escalations": results.escalation_rows(day),
                    "load": results.load_rows(day),
                    "live": day["live"],
                    "draft": day["draft"],
                }
                for day in days
            ],
            "differences": [
                {**d, "parting": results.parting(d), "rows": side_by_side(d)}
                for d in run.result.get("differences", [])
            ],
        }
        return TemplateResponse(request, "lab/backtest_result.html", context)

    def may_cancel(self, request: HttpRequest, run: BacktestRun) -> bool:
        return self.admin_site.get_model_admin(Draft).has_change_permission(request, run.draft)

    def cancel_view(self, request: HttpRequest, pk: int):
        """Stop a run: the draft's change permission, as starting one and the API's cancel
        need (view-only staff see the run, but may not stop it: 403, nothing changes)."""
        run = get_object_or_404(BacktestRun.objects.select_related("draft"), pk=pk)
        if not self.may_cancel(request, run):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:lab_backtestrun_change", pk)
        backtest.cancel(pk)
        self.message_user(request, _("The backtest stops after the current batch."))
        return redirect("admin:lab_backtestrun_change", pk)


def side_by_side(difference: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Both courses row by row: (live, draft, whether this row is where they part or after)."""
    live, draft = difference["live"], difference["draft"]
    reference = difference["reference"]
    rows = []
    for n in range(max(len(live), len(draft))):
        rows.append(
            (
                results.describe(live[n], reference) if n < len(live) else "",
                results.describe(draft[n], reference) if n < len(draft) else "",
                n >= difference["index"],
            )
        )
    return rows
