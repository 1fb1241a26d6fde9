"""The key figures as the page and the CSV show them: one card per KPI with its definition (what
starts and stops the clock) and its figures for this period, the previous one of the same
length, and the change. Words are chosen here, at display time, in the reader's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from escalation.models import Escalation
from portal.models import Rating
from reporting.drilldown import level_key
from reporting.handoffs import (
    DAY,
    HANDBACK_ROWS,
    MONTH,
    WEEK,
    LevelStays,
    OverTime,
    trigger_labels,
)
from reporting.kpis import Clock, Compliance, Report
from reporting.quality import RATING_ROWS, LoadRow, Share
from tickets.models import Ticket

MINUTES = "minutes"
PERCENT = "percent"
COUNT = "count"
SCORE = "score"


@dataclass(frozen=True)
class Figure:
    label: str
    unit: str
    current: float | int | None
    previous: float | int | None
    # The key of `reporting.drilldown` listing the rows behind `current` (tickets, escalations
    # or ratings), if any.
    drill: str = ""

    @property
    def change(self) -> float | int | None:
        if self.current is None or self.previous is None:
            return None
        difference = self.current - self.previous
        return round(difference, 2) if isinstance(difference, float) else difference


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    definition: str
    figures: list[Figure]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _duration_figures(
    current: Clock, previous: Clock, counted: str, drill: str = ""
) -> list[Figure]:
    """Mean, median and p90 in calendar time, then in business time, then the counts."""
    now, before = current.calendar, previous.calendar
    now_b, before_b = current.business, previous.business
    return [
        Figure(_("Mean"), MINUTES, _minutes(now.mean), _minutes(before.mean)),
        Figure(_("Median"), MINUTES, _minutes(now.median), _minutes(before.median)),
        Figure(_("90th percentile"), MINUTES, _minutes(now.p90), _minutes(before.p90)),
        Figure(_("Mean in business time"), MINUTES, _minutes(now_b.mean), _minutes(before_b.mean)),
        Figure(
            _("Median in business time"),
            MINUTES,
            _minutes(now_b.median),
            _minutes(before_b.median),
        ),
        Figure(
            _("90th percentile in business time"),
            MINUTES,
            _minutes(now_b.p90),
            _minutes(before_b.p90),
        ),
        Figure(counted, COUNT, now.count, before.count, drill),
        Figure(_("Of them on a business calendar"), COUNT, now_b.count, before_b.count),
    ]


def _compliance_figures(
    current: Compliance, previous: Compliance, drill: str = "", drill_met: str = ""
) -> list[Figure]:
    return [
        Figure(_("Compliance"), PERCENT, current.percent, previous.percent),
        Figure(_("Met"), COUNT, current.met, previous.met, drill_met),
        Figure(_("Breached"), COUNT, current.breached, previous.breached, drill),
        Figure(_("Breaches recorded"), COUNT, current.breaches, previous.breaches),
    ]


def _score(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def cards(now: Report, before: Report) -> list[Card]:
    """The cards of `now`, each figure beside the same figure of `before`."""
    target_names = {
        "first_response": _("SLA: first response"),
        "next_update": _("SLA: next update"),
        "resolution": _("SLA: resolution"),
    }
    target_definitions = {
        "first_response": _(
            "Tickets first answered in the period that had a first-response target: met when "
            "no breach of the target was recorded. Breaches recorded: first-response breaches "
            "recorded in the period, on any ticket, answered or not."
        ),
        "next_update": _(
            "Tickets resolved in the period that had a next-update target: met when no breach "
            "of the target was recorded while they were worked on. Breaches recorded: "
            "next-update breaches recorded in the period, on any ticket."
        ),
        "resolution": _(
            "Tickets resolved in the period that had a resolution target: met when no breach "
            "of the target was recorded. Breaches recorded: resolution breaches recorded in the "
            "period, on any ticket, resolved or not."
        ),
    }
    result = [
        Card(
            "first_response",
            _("Time to first response (MTTA)"),
            _(
                "The clock starts when the ticket is created and stops at the first response "
                "to the customer. Counted: tickets first answered in the period. Calendar "
                "time, and business time: the time the first-response SLA clock ran, within "
                "the opening hours of the ticket's calendar (weekends and holidays left out, "
                "waiting for the customer left out where the policy pauses)."
            ),
            _duration_figures(
                now.first_response, before.first_response, _("Tickets answered"), "answered"
            ),
        ),
        Card(
            "acknowledgement",
            _("Time to acknowledge an escalation"),
            _(
                "The clock starts when an escalation (up or across) is raised and stops when "
                "the receiving team acknowledges it. Counted: escalations acknowledged in the "
                "period. Calendar time, and business time on the calendar of the receiving "
                "level's tier target (else the ticket's calendar)."
            ),
            _duration_figures(
                now.acknowledgement,
                before.acknowledgement,
                _("Escalations acknowledged"),
                "acknowledged",
            ),
        ),
        Card(
            "resolution",
            _("Time to resolution (MTTR)"),
            _(
                "The clock starts when the ticket is created and stops when it is resolved; "
                "time waiting for the customer counts, and a reopened ticket counts with its "
                "latest resolution. Counted: tickets resolved in the period. Calendar time; "
                "business time is the time the resolution SLA clock ran, within the opening "
                "hours of the ticket's calendar, without the time waiting for the customer "
                "(where the policy pauses) or lying resolved before a reopening."
            ),
            _duration_figures(now.resolution, before.resolution, _("Tickets resolved"), "resolved"),
        ),
    ]
    for current, previous in zip(now.sla, before.sla, strict=True):
        result.append(
            Card(
                f"sla_{current.target}",
                target_names[current.target],
                target_definitions[current.target],
                _compliance_figures(current, previous, f"sla_{current.target}_breached"),
            )
        )
    result.append(
        Card(
            "sla_acknowledgement",
            _("Tier target: acknowledgement"),
            _(
                "Escalations (up or across) whose receiving level has a tier target: met when "
                "acknowledged by the deadline (counted in the period of the acknowledgement), "
                "breached when the deadline passed without an acknowledgement (counted in the "
                "period of the deadline)."
            ),
            _compliance_figures(
                now.acknowledgement_sla,
                before.acknowledgement_sla,
                "acknowledgement_breached",
                "acknowledgement_met",
            ),
        )
    )
    e, f = now.escalations, before.escalations
    before_per_level = {row.level.pk: row.count for row in f.per_level}
    levels = [
        Figure(
            row.level.display_name,
            COUNT,
            row.count,
            before_per_level.get(row.level.pk, 0),
            level_key(row.level),
        )
        for row in e.per_level
    ]
    result += [
        Card(
            "escalations",
            _("Escalations per level"),
            _(
                "Escalations (up the chain or across to experts, not hand-backs) raised in the "
                "period, by the level that received them."
            ),
            [
                Figure(_("All escalations"), COUNT, e.escalations, f.escalations, "escalations"),
                *levels,
            ],
        ),
        Card(
            "escalation_rate",
            _("Escalation rate"),
            _(
                "Of the tickets created in the period, the share escalated at least once "
                "(up or across) so far."
            ),
            [
                Figure(
                    _("Escalation rate"),
                    PERCENT,
                    e.escalation_rate_percent,
                    f.escalation_rate_percent,
                ),
                Figure(
                    _("Tickets created"), COUNT, e.tickets_created, f.tickets_created, "created"
                ),
                Figure(
                    _("Of them escalated"),
                    COUNT,
                    e.tickets_escalated,
                    f.tickets_escalated,
                    "escalated",
                ),
            ],
        ),
        Card(
            "bounce_back",
            _("Bounce-back rate"),
            _(
                "Hand-backs (de-escalations to a lower level) raised in the period per "
                "escalation raised in the period."
            ),
            [
                Figure(
                    _("Bounce-back rate"), PERCENT, e.bounce_back_percent, f.bounce_back_percent
                ),
                Figure(_("Hand-backs"), COUNT, e.handbacks, f.handbacks, "handbacks"),
            ],
        ),
    ]
    trigger_names = trigger_labels()
    result += [
        Card(
            "triggers",
            _("Escalations by trigger"),
            _(
                "Escalations (up or across) raised in the period, by what raised them: a rule's "
                "trigger (an SLA warning and an SLA breach count as SLA), or a person (manual). "
                "Wave: tickets the wave trigger linked to a major incident in the period."
            ),
            [
                Figure(trigger_names[key], COUNT, count, before.triggers[key], f"trigger_{key}")
                for key, count in now.triggers.items()
            ],
        ),
        Card(
            "first_contact",
            _("First-contact resolution at the 1st level"),
            _(
                "Of the tickets resolved in the period that started at the 1st level, the share "
                "resolved there without any hand-off and never reopened."
            ),
            [
                Figure(
                    _("First-contact resolution"),
                    PERCENT,
                    now.first_contact.percent,
                    before.first_contact.percent,
                ),
                Figure(
                    _("Resolved, started at the 1st level"),
                    COUNT,
                    now.first_contact.resolved,
                    before.first_contact.resolved,
                    "first_contact_started",
                ),
                Figure(
                    _("Of them at first contact"),
                    COUNT,
                    now.first_contact.at_first_contact,
                    before.first_contact.at_first_contact,
                    "first_contact",
                ),
            ],
        ),
    ]
    result += [
        Card(
            "recurrence",
            _("Recurrence within 30 days"),
            _(
                "Of the tickets created in the period that have a customer and an affected "
                "service, the share whose customer had a ticket of the same service resolved "
                "within the 30 days before."
            ),
            _share_figures(
                _("Recurring"),
                _("Tickets with customer and service"),
                now.recurrence,
                before.recurrence,
                drills=("recurring", "recurrence_whole"),
            ),
        ),
        Card(
            "documentation",
            _("Documentation quality"),
            _(
                "Of the escalations (up or across) raised in the period, the share whose "
                "information package was complete when raised: what happened, who is affected, "
                "impact, what was tried, next steps and risks all filled in."
            ),
            _share_figures(
                _("Complete"),
                _("Escalations raised"),
                now.documentation,
                before.documentation,
                drills=("documented", "escalations"),
            ),
        ),
        Card(
            "closing_reports",
            _("Closing reports of level-3+ escalations"),
            _(
                "Of the tickets resolved in the period that reached incident management (level "
                "3) or above at any point, the share with a closing report. A report written "
                "after the period still counts, so this share of a past period can grow."
            ),
            _share_figures(
                _("With a closing report"),
                _("Resolved after reaching level 3"),
                now.closing_reports,
                before.closing_reports,
                drills=("closing_report_written", "closing_report_due"),
            ),
        ),
        Card(
            "deflections",
            _("Self-service deflections"),
            _(
                "Times a reader of the knowledge base answered that a suggested article solved "
                "their problem (once per article and browser session), in the period. A ticket "
                "not written has no team or level: the slices do not apply."
            ),
            [Figure(_("Deflections"), COUNT, now.deflections, before.deflections)],
        ),
    ]
    s, t = now.satisfaction, before.satisfaction
    result.append(
        Card(
            "satisfaction",
            _("Customer satisfaction (CSAT)"),
            _(
                "Ratings (1 to 5) customers gave in the period to a resolution. Low: a score at "
                "or below the threshold that alerts the team lead. After escalation: ratings of "
                "tickets that had been escalated when they were rated."
            ),
            [
                Figure(_("Mean score"), SCORE, _score(s.average), _score(t.average)),
                Figure(_("Ratings"), COUNT, s.count, t.count, "ratings"),
                Figure(_("Share low"), PERCENT, _share(s.low, s.count), _share(t.low, t.count)),
                Figure(_("Low ratings"), COUNT, s.low, t.low, "ratings_low"),
                Figure(
                    _("Mean score after escalation"),
                    SCORE,
                    _score(s.escalated_average),
                    _score(t.escalated_average),
                ),
                Figure(
                    _("Ratings after escalation"),
                    COUNT,
                    s.escalated_count,
                    t.escalated_count,
                    "ratings_escalated",
                ),
            ],
        )
    )
    return result


def _share_figures(
    part: str, whole: str, current: Share, previous: Share, drills: tuple[str, str] = ("", "")
) -> list[Figure]:
    return [
        Figure(_("Share"), PERCENT, current.percent, previous.percent),
        Figure(part, COUNT, current.part, previous.part, drills[0]),
        Figure(whole, COUNT, current.whole, previous.whole, drills[1]),
    ]


@dataclass(frozen=True)
class Link:
    """A cell that leads to the tickets (or the ticket) behind it."""

    value: object
    href: str

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Table:
    """A table of the page (and of the exports): headers, then rows of cells (values, or
    `Link`s)."""

    key: str
    title: str
    definition: str
    headers: list[str]
    rows: list[list[object]]
    # A trend chart of the table, drawn by static/js/reports.js: {"labels": [...], "series":
    # [{"label": ..., "values": [...]}]}; None for a table without one.
    chart: dict[str, object] | None = None

    @property
    def chart_id(self) -> str:
        return f"chart-data-{self.key}"


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def _bucket_header(grain: str) -> str:
    return {DAY: _("Day"), WEEK: _("Week starting"), MONTH: _("Month")}[grain]


def _bucket(bucket: dt.date, grain: str) -> str:
    return date_format(bucket, "YEAR_MONTH_FORMAT" if grain == MONTH else "SHORT_DATE_FORMAT")


def over_time_table(over_time: OverTime) -> Table:
    return Table(
        "escalations_over_time",
        _("Escalations per level over time"),
        _(
            "Escalations (up or across, not hand-backs) raised per day, week or month and "
            "receiving level. Days for a period of up to a month, weeks up to half a year, "
            "months beyond."
        ),
        [_bucket_header(over_time.grain), *(level.display_name for level in over_time.levels)],
        [
            [_bucket(bucket, over_time.grain), *over_time.row(bucket)]
            for bucket in over_time.buckets
        ],
        chart={
            "labels": [_bucket(bucket, over_time.grain) for bucket in over_time.buckets],
            "series": [
                {
                    "label": level.display_name,
                    "values": [over_time.row(bucket)[n] for bucket in over_time.buckets],
                }
                for n, level in enumerate(over_time.levels)
            ],
        },
    )


def time_in_tier_table(stays: list[LevelStays]) -> Table:
    return Table(
        "time_in_tier",
        _("Time in tier"),
        _(
            "Per level, the stays that ended in the period: a stay begins when a hand-off "
            "(escalation or hand-back) brings the ticket to the level and ends at its next "
            "hand-off or its resolution. Hours, in calendar time and in business time (the "
            "opening hours of the calendar of the ticket's SLA policy; tickets without a "
            "policy count in calendar time only)."
        ),
        [
            _("Level"),
            _("Stays"),
            _("Mean (hours)"),
            _("Median (hours)"),
            _("90th percentile (hours)"),
            _("Stays on a business calendar"),
            _("Mean in business time (hours)"),
            _("Median in business time (hours)"),
            _("90th percentile in business time (hours)"),
        ],
        [
            [
                row.level.display_name,
                row.durations.count,
                _hours(row.durations.mean),
                _hours(row.durations.median),
                _hours(row.durations.p90),
                row.business.count,
                _hours(row.business.mean),
                _hours(row.business.median),
                _hours(row.business.p90),
            ]
            for row in stays
        ],
    )


def handbacks_table(rows: list[Escalation]) -> Table:
    return Table(
        "handbacks",
        _("Hand-backs and their reasons"),
        _(
            "Hand-backs (de-escalations to a lower level) raised in the period, newest first "
            "(at most %(rows)d), with the reason the person gave."
        )
        % {"rows": HANDBACK_ROWS},
        [_("Ticket"), _("When"), _("From"), _("To"), _("Reason"), _("By")],
        [
            [
                _ticket_link(row.ticket),
                _when(row.raised_at),
                f"{row.from_team} ({row.from_level.display_name})",
                f"{row.to_team} ({row.to_level.display_name})",
                row.reason_text,
                row.raised_by.get_full_name() or row.raised_by.get_username()
                if row.raised_by
                else "",
            ]
            for row in rows
        ],
    )


def _ticket_link(ticket: Ticket) -> Link:
    return Link(ticket.reference, reverse("tickets:detail", args=[ticket.reference]))


def _when(instant: dt.datetime) -> str:
    return date_format(localtime(instant), "SHORT_DATETIME_FORMAT")


def ratings_table(key: str, title: str, definition: str, ratings: list[Rating]) -> Table:
    return Table(
        key,
        title,
        definition,
        [_("Ticket"), _("Rated"), _("Score"), _("Comment"), _("Team"), _("After escalation")],
        [
            [
                _ticket_link(rating.ticket),
                _when(rating.created_at),
                rating.score,
                rating.comment,
                str(rating.team or ""),
                _("yes") if rating.escalated else _("no"),
            ]
            for rating in ratings
        ],
    )


def comments_table(ratings: list[Rating]) -> Table:
    return ratings_table(
        "rating_comments",
        _("Customer comments"),
        _("Ratings given in the period with a comment, newest first (at most %(rows)d).")
        % {"rows": RATING_ROWS},
        ratings,
    )


def low_ratings_table(ratings: list[Rating]) -> Table:
    return ratings_table(
        "low_ratings",
        _("Low ratings"),
        _(
            "Ratings given in the period at or below %(score)d of 5, the score that alerts the "
            "team lead, newest first (at most %(rows)d)."
        )
        % {"score": settings.PORTAL_LOW_RATING, "rows": RATING_ROWS},
        ratings,
    )


def load_table(rows: list[LoadRow], grain: str) -> Table:
    return Table(
        "load",
        _("Load per level"),
        _(
            "Per level and per day, week or month: tickets created, hand-offs received "
            "(escalations and hand-backs), tickets resolved, and tickets open at the end. "
            "Created, resolved and open count by the level the ticket is at now; open at the "
            "end is the open tickets at the start of the period plus those created minus "
            "those resolved since."
        ),
        [
            _bucket_header(grain),
            _("Level"),
            _("Created"),
            _("Handed in"),
            _("Resolved"),
            _("Open at the end"),
        ],
        [
            [
                _bucket(row.bucket, grain),
                row.level.display_name,
                row.created,
                row.handed_in,
                row.resolved,
                row.open_at_end,
            ]
            for row in rows
        ],
        chart=_open_chart(rows, grain),
    )


def _open_chart(rows: list[LoadRow], grain: str) -> dict[str, object]:
    """Open tickets at the end of each bucket, a series per level."""
    labels: list[str] = []
    series: dict[int, dict[str, object]] = {}
    for row in rows:
        label = _bucket(row.bucket, grain)
        if not labels or labels[-1] != label:
            labels.append(label)
        entry = series.setdefault(
            row.level.pk,
            {"label": _("Open: %(level)s") % {"level": row.level.display_name}, "values": []},
        )
        entry["values"].append(row.open_at_end)  # type: ignore[union-attr]
    return {"labels": labels, "series": list(series.values())}


def csv_rows(all_cards: Iterable[Card]) -> Iterable[list[object]]:
    """The cards as one table: a header, then one row per figure."""
    units = {
        MINUTES: _("minutes"),
        PERCENT: _("percent"),
        COUNT: _("count"),
        SCORE: _("score 1–5"),
    }
    yield [_("KPI"), _("Figure"), _("Unit"), _("This period"), _("Previous period"), _("Change")]
    for card in all_cards:
        for figure in card.figures:
            yield [
                card.title,
                figure.label,
                units[figure.unit],
                figure.current,
                figure.previous,
                figure.change,
            ]


def table_rows(report_table: Table) -> Iterable[list[object]]:
    """A table for the exports: its headers, then its rows with links as their values."""
    yield list(report_table.headers)
    for row in report_table.rows:
        yield [cell.value if isinstance(cell, Link) else cell for cell in row]
