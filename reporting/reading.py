"""A report as the page, the exports and the API read it: the query string in, the form (with
its errors) and the figures out — one place, so the three never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reporting import drilldown, handoffs, kpis, quality, rollups, table
from reporting.figures import Period
from reporting.forms import ReportForm
from reporting.selectors import report_tickets

PERIOD_FIELDS = ("preset", "start", "end")


def period_errors(form: ReportForm) -> bool:
    """Whether the period of a validated form cannot be read (the form says why)."""
    return bool(form.non_field_errors()) or any(name in form.errors for name in PERIOD_FIELDS)


def read_report(user: Any, params: Mapping[str, Any]) -> tuple[ReportForm, list[table.Card] | None]:
    """The form of `params` (a QueryDict), and the cards of its period and slices for `user`
    beside the previous period's — None when the period cannot be read (the form says why)."""
    form = ReportForm(params)
    form.is_valid()
    if period_errors(form):
        return form, None
    tickets = form.narrow(report_tickets(user))
    period = form.period()
    now = _facts(user, form, tickets, period)
    before = _facts(user, form, tickets, period.previous())
    return form, table.cards(
        kpis.report(tickets, period, rollups.precomputed(now) if now else None),
        kpis.report(tickets, period.previous(), rollups.precomputed(before) if before else None),
    )


def _facts(user: Any, form: ReportForm, tickets: Any, period: Period) -> rollups.Facts | None:
    """The rolled-up facts of the period for this reader and form (None when the slices need
    the tickets or no day of the period is rolled up), kept on the form so the cards and the
    tables read them once."""
    cache = form.__dict__.setdefault("rolled_facts", {})
    if period not in cache:
        # One source for both periods: what it reads once (the freshness, a lead's other
        # tickets) holds for both.
        if "rolled_source" not in form.__dict__:
            form.__dict__["rolled_source"] = rollups.source_for(user, form, tickets)
        source = form.__dict__["rolled_source"]
        cache[period] = source.facts(period) if source is not None else None
    return cache[period]


def report_tables(user: Any, form: ReportForm) -> list[table.Table]:
    """The period's tables (call when `read_report` gave cards)."""
    tickets = form.narrow(report_tickets(user))
    period = form.period()
    facts = _facts(user, form, tickets, period)
    grain = handoffs.grain_of(period)
    return [
        table.over_time_table(
            handoffs.escalations_over_time(
                tickets, period, grain, rollups.over_time_counts(facts, grain) if facts else None
            )
        ),
        table.time_in_tier_table(
            rollups.time_in_tier(facts) if facts else handoffs.time_in_tier(tickets, period)
        ),
        table.handbacks_table(handoffs.handbacks(tickets, period)),
        table.load_table(
            quality.load(
                tickets, period, grain, rollups.load_counts(facts, grain) if facts else None
            ),
            grain,
        ),
        table.comments_table(quality.rating_comments(tickets, period)),
        table.low_ratings_table(quality.low_ratings(tickets, period)),
    ]


DRILL_ROWS = 500


def read_drill(user: Any, params: Mapping[str, Any], key: str) -> tuple[ReportForm, Any]:
    """The form of `params`, and the rows behind figure `key` for `user` (a `drilldown.Drill`;
    None when the period cannot be read). Raises KeyError for an unknown figure."""
    form = ReportForm(params)
    form.is_valid()
    if period_errors(form):
        if not drilldown.known(key):
            raise KeyError(key)
        return form, None
    found = drilldown.drill(form.narrow(report_tickets(user)), form.period(), key)
    if found is None:
        raise KeyError(key)
    return form, found
