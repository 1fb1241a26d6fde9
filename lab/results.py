"""A backtest's result in words: the totals, the day table, and for each ticket whose course
parts the first instant where it does. Worded at display time in the reader's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from escalation.models import EscalationRule
from lab.models import BacktestRun

CONFIGS = ("live", "draft")


def when(value: str) -> str:
    return date_format(timezone.localtime(dt.datetime.fromisoformat(value)), "D j M H:i")


def target_name(name: str) -> str:
    return {
        "first_response": _("first response"),
        "next_update": _("next update"),
        "resolution": _("resolution"),
    }.get(name, name)


def describe(item: dict[str, Any] | None, reference: str) -> str:
    """One happening of a course as a phrase."""
    if item is None:
        return _("nothing more happens to %(ticket)s") % {"ticket": reference}
    values = {
        "ticket": reference,
        "when": when(item["at"]),
        "level": item["level"],
        "team": item["team"],
        "target": target_name(item["target"]),
    }
    match item["kind"]:
        case "escalated":
            return _("escalates %(ticket)s to level %(level)s (%(team)s) on %(when)s") % values
        case "sla_warning":
            return _("warns about the %(target)s target of %(ticket)s on %(when)s") % values
        case "sla_breach":
            return _("breaches the %(target)s target of %(ticket)s on %(when)s") % values
    return _("notifies about %(ticket)s on %(when)s") % values


def parting(difference: dict[str, Any]) -> str:
    """ "Draft escalates HD-… to level 2 (…) on Tue 14:00; live: … on Wed 09:00." """
    n, reference = difference["index"], difference["reference"]
    live, draft = (difference[name][n] if n < len(difference[name]) else None for name in CONFIGS)
    return _("Draft: %(draft)s; live: %(live)s.") % {
        "draft": describe(draft, reference),
        "live": describe(live, reference),
    }


def totals(result: dict[str, Any]) -> dict[str, dict[str, int]]:
    out = {name: {"escalations": 0, "warnings": 0, "breaches": 0} for name in CONFIGS}
    for day in result.get("days", []):
        for name in CONFIGS:
            out[name]["escalations"] += sum(n for _level, _trigger, n in day[name]["escalations"])
            out[name]["warnings"] += day[name]["warnings"]
            out[name]["breaches"] += day[name]["breaches"]
    return out


def wave_totals(result: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The waves the wave rules fired live and in the draft, per action (proposed, declared);
    a result from before waves were replayed counts none."""
    out = {name: {"proposed": 0, "declared": 0} for name in CONFIGS}
    for day in result.get("days", []):
        for name in CONFIGS:
            for action, n, _tickets in day[name].get("waves", ()):
                out[name][action] += n
    return out


def load_rows(day: dict[str, Any]) -> list[dict[str, Any]]:
    """Per team on one day: escalations received live and in the draft, the difference, and
    each side's peak hour."""
    teams: dict[str, dict[str, Any]] = {}
    for name in CONFIGS:
        for team, n, peak in day[name]["load"]:
            row = teams.setdefault(team, {"team": team, "live": 0, "draft": 0})
            row[name], row[f"{name}_peak"] = n, peak
    rows = sorted(teams.values(), key=lambda r: r["team"])
    for row in rows:
        row["change"] = row["draft"] - row["live"]
    return rows


def escalation_rows(day: dict[str, Any]) -> list[dict[str, Any]]:
    """Per level and trigger on one day: live and draft."""
    cells: dict[tuple[int, str], dict[str, Any]] = {}
    for name in CONFIGS:
        for level, trigger, n in day[name]["escalations"]:
            row = cells.setdefault(
                (level, trigger), {"level": level, "trigger": trigger, "live": 0, "draft": 0}
            )
            row[name] = n
    labels = dict(EscalationRule.TriggerChoice.choices)
    return [
        {**cells[key], "trigger": labels.get(cells[key]["trigger"], cells[key]["trigger"])}
        for key in sorted(cells)
    ]


def summary_lines(run: BacktestRun) -> list[str]:
    """The command's report."""
    if run.status != BacktestRun.Status.DONE:
        return [_("Backtest %(status)s.") % {"status": run.get_status_display()}]
    result = run.result
    sums = totals(result)
    lines = [
        _("%(count)s ticket(s) replayed, %(differing)s with a different course.")
        % {"count": run.total, "differing": result["differing"]},
        _("Escalations: live %(live)s, draft %(draft)s.")
        % {"live": sums["live"]["escalations"], "draft": sums["draft"]["escalations"]},
        _("SLA warnings: live %(live)s, draft %(draft)s.")
        % {"live": sums["live"]["warnings"], "draft": sums["draft"]["warnings"]},
        _("SLA breaches: live %(live)s, draft %(draft)s.")
        % {"live": sums["live"]["breaches"], "draft": sums["draft"]["breaches"]},
    ]
    waves = wave_totals(result)
    for action, label in (
        ("proposed", _("Waves proposed: live %(live)s, draft %(draft)s.")),
        ("declared", _("Waves declared: live %(live)s, draft %(draft)s.")),
    ):
        if waves["live"][action] or waves["draft"][action]:
            lines.append(label % {name: waves[name][action] for name in CONFIGS})
    for day in result["days"]:
        for row in load_rows(day):
            if row["change"]:
                lines.append(
                    _("%(day)s %(team)s: %(change)+d escalation(s) received")
                    % {"day": day["day"], "team": row["team"], "change": row["change"]}
                )
    lines += [parting(d) for d in result["differences"]]
    return lines
