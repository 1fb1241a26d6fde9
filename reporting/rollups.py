"""Daily rollups of the reports' heaviest figures, so that a long period reads a few hundred
rows instead of every ticket, clock segment and hand-off of it.

What is rolled up, per local day (of the site's time zone) and combination of a ticket's team,
level and priority (the ticket's values now, as the raw figures slice them):

- `answered`, `resolved`: the durations of time to first response and to resolution, in
  calendar and in business time (`kpis.first_response_times`, `kpis.resolution_times`);
- `ack`: the time to acknowledge an escalation, both ways (`kpis.acknowledgements`);
- the SLA compliance counts per target (`kpis.sla_compliance`);
- `created` and `created_escalated` (the escalation rate's two counts);
- the stays of time in tier per receiving level, both ways (`handoffs.stays`);
- the acknowledgement tier target's met (under the day acknowledged) and breached (under the
  deadline's day), the closing-report share's two counts, the CSAT counts and score sums;
- the hand-offs per receiving level, trigger and information package, first-contact
  resolution, recurrence and the load table's counts.

Durations are kept as their values (seconds), not as sums, so the median and the 90th
percentile of any merge of days are exact; counts are summed. Each figure is filed under the
day its clock stopped (or the ticket was created, the breach recorded), as the raw figure
counts it, so merging the days of a period gives the period's figure.

**Freshness.** `roll_up` (beat, `reporting.tasks.roll_up_reports`) writes closed days only;
today is always computed from the tickets. Every instant a ticket is counted at lies between
its creation and its last write, so a ticket written after a day was rolled up (its
`updated_at`; every ticket service sets it) makes every day from the ticket's creation on
stale. Each run first forgets those days for the tickets written since its watermark
(`invalidate`), then rolls up missing days; the page treats the days of tickets written since
the watermark as stale too (`stale_from`). Stale days are computed from the tickets, so a day
is never read stale. Writes that leave the ticket row alone (an escalation saved, a rating, a
closing report) mark their days instead (`DirtyDay`, `reporting.signals`): one INSERT each;
`invalidate` and the page treat the days marked since the watermark as stale too. Cost per
ticket write: nothing; the next run pays about fifteen queries
per stale day, and until then the page computes them from the tickets (so a long-open ticket
written today costs the days since its creation once).

**Who reads them.** `source_for` uses the rollups when the slices are at most team, level and
priority (the rows' dimensions). An admin reads every row. A lead reads the rows of their teams
and gets the other tickets they may see (escalated away from their teams, assigned to them,
followed) from the rows, over the whole period: the facts of disjoint sets of tickets add up.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from escalation.models import Escalation
from portal.models import Rating
from portal.selectors import CsatSummary
from reporting import handoffs, kpis, quality
from reporting.figures import Durations, Period, summarise, within
from reporting.forms import ReportForm, day_period
from reporting.models import DailyRollup, DirtyDay, RolledDay, RollupWatermark
from reporting.trends import escalations_of, handoffs_of, site_zone
from tickets.models import Ticket, agent_teams

Key = tuple[dt.date, int | None, int | None, int | None]  # day, team, level, priority
DIMENSIONS = ("team_id", "level_id", "priority")
# Slices the rows can answer; any other (tier, service, channel, agent) reads the tickets.
ROLLED_SLICES = frozenset({"team", "level", "priority"})
# Closed days `roll_up` writes per run at most (the newest first), and how far back it fills.
DAYS_PER_RUN = 31
HORIZON_DAYS = 800
# How far back a run looks for ticket writes before its own start (see `invalidate`).
MARGIN = dt.timedelta(minutes=5)
# More separate stretches of days to compute from the rows than this: compute the period.
MAX_RAW_STRETCHES = 3


# The counts of the load table, kept per local day and level when facts are merged.
LOAD_COUNTS = {"created": "created", "resolved_n": "resolved"}
HANDED_IN = "handed_in:"  # + the receiving level's id
RAISED_TO = "raised_to:"  # + the receiving level's id: escalations (up or across) raised
# A rating counts as satisfied from this score (`portal.selectors.csat_summary`).
SATISFIED = 4


@dataclass
class Facts:
    """Counts and durations (seconds) by name, mergeable; `load`: the load table's counts per
    (local day, level id, "created" | "resolved" | "handed_in")."""

    counts: Counter[str] = field(default_factory=Counter)
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    load: Counter[tuple[dt.date, int | None, str]] = field(default_factory=Counter)
    _summaries: dict[str, Durations] | None = None

    def summaries(self) -> dict[str, Durations]:
        """Count, mean, median and p90 of every duration by name (as `percentile_cont`),
        computed once. Summarising the stored JSON arrays in PostgreSQL instead was measured
        slower (see docs/reporting.md)."""
        if self._summaries is None:
            self._summaries = {name: summarise(found) for name, found in self.values.items()}
        return self._summaries

    def summary(self, name: str) -> Durations:
        return self.summaries().get(name) or summarise([])

    def add(self, other: Facts) -> None:
        self.counts.update(other.counts)
        self.load.update(other.load)
        for name, found in other.values.items():
            self.values[name].extend(found)

    def add_stored(
        self,
        day: dt.date,
        level: int | None,
        counts: dict[str, int],
        values: dict[str, Iterable[float]],
    ) -> None:
        """A stored row (or the facts of one day and dimensions) of local `day` and `level`.
        One pass over the counts (a year's page adds thousands of rows)."""
        own, load = self.counts, self.load
        for name, n in counts.items():
            own[name] += n
            kind = load_kind(name)
            if kind is not None:
                load[(day, level if kind[1] is None else kind[1], kind[0])] += n
        for name, found in values.items():
            self.values[name].extend(found)


@functools.cache
def load_kind(name: str) -> tuple[str, int | None] | None:
    """Where a count of `name` goes in `Facts.load`: (its name there, the receiving level's
    id, or None for the row's level), or None when it is not a load count. Cached: the names
    are few, the rows many."""
    if name in LOAD_COUNTS:
        return LOAD_COUNTS[name], None
    if name.startswith(HANDED_IN):
        return "handed_in", int(name.removeprefix(HANDED_IN))
    if name.startswith(RAISED_TO):
        return "raised", int(name.removeprefix(RAISED_TO))
    return None


def pack(values: dict[str, list[float]]) -> tuple[dict[str, int], bytes]:
    """Durations by name as `DailyRollup` stores them: (name -> how many, the values as 8-byte
    floats in network byte order, name after name in sorted order, each name's ascending: one
    order for a set of values, which `reporting/migrations/0005` reproduces in SQL)."""
    packed = array("d")
    lengths = {}
    for name in sorted(values):
        packed.extend(sorted(values[name]))
        lengths[name] = len(values[name])
    if sys.byteorder == "little":
        packed.byteswap()
    return lengths, packed.tobytes()


def unpack(lengths: dict[str, int], packed: bytes | memoryview) -> dict[str, array[float]]:
    """The durations by name of a stored row (`pack`'s inverse)."""
    found = array("d")
    found.frombytes(packed)
    if sys.byteorder == "little":
        found.byteswap()
    values, offset = {}, 0
    for name in sorted(lengths):
        values[name] = found[offset : offset + lengths[name]]
        offset += lengths[name]
    return values


def whether(condition: Q) -> Case:
    """True where `condition` holds, else False: a column to count by."""
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def _day(instant: dt.datetime) -> dt.date:
    return instant.astimezone(site_zone()).date()


def collect(tickets: QuerySet[Ticket], period: Period) -> dict[Key, Facts]:
    """The facts of `tickets` in the period, by day and dimensions. About fourteen queries,
    whatever the period's length."""
    facts: dict[Key, Facts] = defaultdict(Facts)

    def at(instant: dt.datetime, team: Any, level: Any, priority: Any) -> Facts:
        return facts[(_day(instant), team, level, priority)]

    def share(rows: Any, whole: str, part: str) -> None:
        """Rows of (team, level, priority, instant, in the part): a share's two counts."""
        for team, level, priority, instant, in_part in rows:
            found = at(instant, team, level, priority)
            found.counts[whole] += 1
            found.counts[part] += int(in_part)

    for name, stop, target in (
        ("answered", "first_responded_at", "first_response"),
        ("resolved", "resolved_at", "resolution"),
    ):
        rows = (
            tickets.filter(within(stop, period))
            .order_by()
            .annotate(business_seconds=kpis.running_seconds(target))
            .values_list(*DIMENSIONS, "created_at", stop, "business_seconds")
        )
        for team, level, priority, created, stopped, business in rows:
            found = at(stopped, team, level, priority)
            found.counts[f"{name}_n"] += 1
            found.values[name].append((stopped - created).total_seconds())
            if business is not None:
                found.values[f"{name}_b"].append(float(business))
    for team, level, priority, acknowledged, calendar, business in kpis.acknowledgements(
        tickets, period
    ):
        found = at(acknowledged, team, level, priority)
        found.values["ack"].append(calendar)
        found.values["ack_b"].append(business)
    for target, stop in kpis.SLA_STOPS.items():
        stopped, breached = kpis.sla_decided(target, period)
        rows = (
            tickets.filter(stopped)
            .order_by()
            .annotate(is_breached=whether(breached))
            .values_list(*DIMENSIONS, stop, "is_breached")
        )
        for team, level, priority, instant, is_breached in rows:
            at(instant, team, level, priority).counts[
                f"{target}_{'breached' if is_breached else 'met'}"
            ] += 1
        if target == "next_update":
            breaches = (
                kpis.breach_events(target)
                .filter(within("created_at", period), ticket__in=tickets.order_by().values("pk"))
                .values_list(
                    "ticket__team_id", "ticket__level_id", "ticket__priority", "created_at"
                )
            )
        else:
            breaches = (
                tickets.filter(within(f"{target}_breached_at", period))
                .order_by()
                .values_list(*DIMENSIONS, f"{target}_breached_at")
            )
        for team, level, priority, instant in breaches:
            at(instant, team, level, priority).counts[f"{target}_breaches"] += 1
    created = (
        tickets.filter(within("created_at", period))
        .order_by()
        .annotate(escalated=kpis.escalated_once())
        .values_list(*DIMENSIONS, "created_at", "escalated")
    )
    share(created, "created", "created_escalated")
    first_contacts = (
        handoffs.started_first_level(tickets, period)
        .order_by()
        .annotate(first=whether(handoffs.at_first_contact()))
        .values_list(*DIMENSIONS, "resolved_at", "first")
    )
    share(first_contacts, "fcr_resolved", "fcr_first")
    share(quality.recurrences(tickets, period), "recurrence_whole", "recurrence_part")
    raised = (
        quality.with_package_lengths(handoffs_of(tickets).filter(within("raised_at", period)))
        .order_by()
        .annotate(complete=whether(quality.complete_package()))
        .values_list(
            "ticket__team_id",
            "ticket__level_id",
            "ticket__priority",
            "raised_at",
            "kind",
            "to_level_id",
            "trigger",
            "complete",
        )
    )
    for team, level, priority, instant, kind, to_level, trigger, complete in raised:
        found = at(instant, team, level, priority)
        found.counts[f"{HANDED_IN}{to_level}"] += 1
        if kind == Escalation.Kind.DE_ESCALATION:
            found.counts["handbacks"] += 1
            continue
        found.counts[f"{RAISED_TO}{to_level}"] += 1
        found.counts[f"trigger:{trigger}"] += 1
        found.counts["raised"] += 1
        found.counts["documented"] += int(complete)
    met, breached = kpis.acknowledgement_decided(period)
    deadlines = (
        escalations_of(tickets)
        .filter(met | breached)
        .order_by()
        .annotate(is_met=whether(met))
        .values_list(
            "ticket__team_id",
            "ticket__level_id",
            "ticket__priority",
            "acknowledged_at",
            "ack_due_at",
            "is_met",
        )
    )
    for team, level, priority, acknowledged, due, is_met in deadlines:
        if is_met:
            at(acknowledged, team, level, priority).counts["ack_met"] += 1
        else:
            at(due, team, level, priority).counts["ack_breached"] += 1
    reports = (
        tickets.filter(within("resolved_at", period))
        .filter(quality.reached_report_level())
        .order_by()
        .annotate(reported=whether(Q(quality.has_closing_report())))
        .values_list(*DIMENSIONS, "resolved_at", "reported")
    )
    share(reports, "reports_whole", "reports_part")
    ratings = (
        Rating.objects.filter(
            within("created_at", period), ticket_id__in=tickets.order_by().values("pk")
        )
        .order_by()
        .values_list(
            "ticket__team_id",
            "ticket__level_id",
            "ticket__priority",
            "created_at",
            "score",
            "escalated",
        )
    )
    low = settings.PORTAL_LOW_RATING
    for team, level, priority, instant, score, escalated in ratings:
        found = at(instant, team, level, priority)
        found.counts["csat_n"] += 1
        found.counts["csat_sum"] += score
        found.counts["csat_satisfied"] += int(score >= SATISFIED)
        found.counts["csat_low"] += int(score <= low)
        if escalated:
            found.counts["csat_esc_n"] += 1
            found.counts["csat_esc_sum"] += score
    for stay, calendar, business in handoffs.measure_stays(handoffs.stays(tickets, period)):
        to_level, left, team, level, priority = stay[0], stay[2], stay[4], stay[5], stay[6]
        found = at(left, team, level, priority)
        found.values[f"stay:{to_level}"].append(calendar)
        if business is not None:
            found.values[f"stay_b:{to_level}"].append(business)
    return facts


def merged(facts: dict[Key, Facts]) -> Facts:
    total = Facts()
    for key, found in facts.items():
        total.add_stored(key[0], key[2], found.counts, found.values)
    return total


def load_counts(
    facts: Facts, grain: str
) -> tuple[quality.LoadCounts, quality.LoadCounts, quality.LoadCounts]:
    """The created, resolved and handed-in counts of `quality.load` per bucket of `grain`."""
    found = per_bucket(facts, grain)
    return found["created"], found["resolved"], found["handed_in"]


def per_bucket(facts: Facts, grain: str) -> dict[str, quality.LoadCounts]:
    """The facts' per-day counts (`Facts.load`) by name, summed per bucket of `grain` and
    level."""
    found: dict[str, quality.LoadCounts] = defaultdict(lambda: defaultdict(int))
    for (day, level, name), n in facts.load.items():
        found[name][(quality.bucket_of(day, grain), level)] += n
    return found


def over_time_counts(facts: Facts, grain: str) -> dict[dt.date, dict[int, int]]:
    """`handoffs.escalations_over_time`'s counts (bucket -> receiving level id -> escalations
    raised) from the facts."""
    counts: dict[dt.date, dict[int, int]] = defaultdict(dict)
    for (bucket, level), n in per_bucket(facts, grain)["raised"].items():
        if n:
            counts[bucket][level] = n
    return dict(counts)


def precomputed(facts: Facts) -> kpis.Precomputed:
    """The figures of `kpis.report` that the facts answer."""

    def clock(name: str) -> kpis.Clock:
        return kpis.Clock(calendar=facts.summary(name), business=facts.summary(f"{name}_b"))

    counts = facts.counts
    return kpis.Precomputed(
        first_response=clock("answered"),
        acknowledgement=clock("ack"),
        resolution=clock("resolved"),
        sla=[
            kpis.Compliance(
                target,
                counts[f"{target}_met"],
                counts[f"{target}_breached"],
                counts[f"{target}_breaches"],
            )
            for target in kpis.SLA_TARGETS
        ],
        tickets_created=counts["created"],
        tickets_escalated=counts["created_escalated"],
        per_level={
            int(name.partition(":")[2]): found
            for name, found in counts.items()
            if name.startswith(RAISED_TO) and found
        },
        handbacks=counts["handbacks"],
        triggers={
            name.partition(":")[2]: found
            for name, found in counts.items()
            if name.startswith("trigger:")
        },
        documentation=quality.Share(counts["documented"], counts["raised"]),
        acknowledgement_sla=kpis.Compliance(
            "acknowledgement", counts["ack_met"], counts["ack_breached"], counts["ack_breached"]
        ),
        closing_reports=quality.Share(counts["reports_part"], counts["reports_whole"]),
        satisfaction=CsatSummary(
            count=counts["csat_n"],
            average=counts["csat_sum"] / counts["csat_n"] if counts["csat_n"] else None,
            satisfied=counts["csat_satisfied"],
            low=counts["csat_low"],
            escalated_count=counts["csat_esc_n"],
            escalated_average=(
                counts["csat_esc_sum"] / counts["csat_esc_n"] if counts["csat_esc_n"] else None
            ),
        ),
        first_contact=handoffs.FirstContact(counts["fcr_resolved"], counts["fcr_first"]),
        recurrence=quality.Share(counts["recurrence_part"], counts["recurrence_whole"]),
    )


def time_in_tier(facts: Facts) -> list[handoffs.LevelStays]:
    """`handoffs.time_in_tier` from the facts."""
    calendar: dict[int, Durations] = {}
    business: dict[int, Durations] = {}
    for name, found in facts.summaries().items():
        kind, _, level = name.partition(":")
        if kind == "stay":
            calendar[int(level)] = found
        elif kind == "stay_b":
            business[int(level)] = found
    return handoffs.summarised_stays(calendar, business)


# Writing the rollups --------------------------------------------------------------------------


@transaction.atomic
def roll_up_day(day: dt.date, now: dt.datetime) -> int:
    """Replace the rows of the local `day` with its facts over every ticket; returns how many
    rows were written."""
    # Two runs at once (beat and the command, two workers) write a day one after the other:
    # the watermark's row is the lock, so a day never holds two runs' rows.
    RollupWatermark.objects.select_for_update().filter(pk=1).first()
    facts = collect(Ticket.objects.all(), day_period(day, day))
    DailyRollup.objects.filter(day=day).delete()
    rows = []
    for key, found in facts.items():
        if key[0] != day:
            continue
        lengths, packed = pack(found.values)
        rows.append(
            DailyRollup(
                day=key[0],
                team_id=key[1],
                level_id=key[2],
                priority=key[3],
                counts=dict(found.counts),
                lengths=lengths,
                durations=packed,
            )
        )
    DailyRollup.objects.bulk_create(rows)
    RolledDay.objects.update_or_create(day=day, defaults={"rolled_at": now})
    return len(rows)


def watermark() -> dt.datetime | None:
    """Up to when ticket writes have been checked against the rolled days."""
    return RollupWatermark.objects.values_list("checked_at", flat=True).first()


def stale_from(since: dt.datetime | None) -> dt.date | None:
    """The first local day a ticket written at or after `since` may be counted on (its
    creation day), or None when none was written. One query over the tickets written since
    (the `ticket_updated_id` index): few, for `since` is at most a roll-up interval old."""
    if since is None:
        return None
    first = Ticket.objects.filter(updated_at__gte=since).aggregate(first=Min("created_at"))
    return _day(first["first"]) if first["first"] else None


def dirty_days(since: dt.datetime | None) -> set[dt.date]:
    """The local days marked (`DirtyDay`, by `reporting.signals`) at or after `since`: an
    acknowledgement, a rating, a closing report written since. One query over the marks made
    since (the `marked_at` index): few, for `since` is at most a roll-up interval old."""
    if since is None:
        return set()
    return set(DirtyDay.objects.filter(marked_at__gte=since).values_list("day", flat=True))


@transaction.atomic
def invalidate(now: dt.datetime) -> dt.date | None:
    """Forget the rolled days that tickets written since the watermark may count on (every
    day from the oldest such ticket's creation on) and the days marked since it, drop the
    marks the previous run dealt with, and move the watermark to `now` less `MARGIN` (a write
    that commits late, with an `updated_at` or a mark a little in the past, is still caught by
    the next run). Returns the first day forgotten for a ticket write."""
    mark = RollupWatermark.objects.select_for_update().first()
    since = mark.checked_at if mark else None
    first = stale_from(since)
    if first is not None:
        RolledDay.objects.filter(day__gte=first).delete()
    marked = dirty_days(since)
    if marked:
        RolledDay.objects.filter(day__in=marked).delete()
    if since is None:
        DirtyDay.objects.all().delete()  # nothing rolled up yet that they could make stale
    else:
        DirtyDay.objects.filter(marked_at__lt=since).delete()
    RollupWatermark.objects.update_or_create(pk=1, defaults={"checked_at": now - MARGIN})
    return first


@dataclass(frozen=True)
class RollUp:
    days: list[dt.date]
    rows: int


def roll_up(now: dt.datetime | None = None, limit: int = DAYS_PER_RUN) -> RollUp:
    """Write the closed days that are missing (within `HORIZON_DAYS`) or stale, newest first,
    at most `limit` of them. Idempotent: a run with nothing to do writes nothing; two runs at
    once write the same rows (each day in one transaction, under the watermark's row lock)."""
    now = now or timezone.now()
    today = _day(now)
    invalidate(now)
    rolled = set(RolledDay.objects.values_list("day", flat=True))
    first_ticket = Ticket.objects.aggregate(first=Min("created_at"))["first"]
    if first_ticket is None:
        return RollUp([], 0)
    first = max(_day(first_ticket), today - dt.timedelta(days=HORIZON_DAYS))
    due = []
    day = today - dt.timedelta(days=1)
    while day >= first and len(due) < limit:
        if day not in rolled:
            due.append(day)
        day -= dt.timedelta(days=1)
    written = sum(roll_up_day(day, now) for day in due)
    return RollUp(due, written)


# Reading the rollups ---------------------------------------------------------------------------


def _stretches(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) stretches, oldest first."""
    result: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if result and result[-1][1] + dt.timedelta(days=1) == day:
            result[-1] = (result[-1][0], day)
        else:
            result.append((day, day))
    return result


@dataclass(frozen=True)
class Source:
    """Where a reader's figures come from: `rows` (rollups in the reader's teams and slices),
    `live` (the same tickets, for the days the rollups do not answer) and `rest` (the other
    tickets the reader may see, always from the tickets, read by key; None for an admin)."""

    rows: QuerySet[DailyRollup]
    live: QuerySet[Ticket]
    rest: QuerySet[Ticket] | None

    @functools.cached_property
    def freshness(self) -> tuple[dt.datetime | None, dt.date | None, set[dt.date]]:
        """(the first ticket's creation, `stale_from` and `dirty_days` of the watermark): the
        same for every period of a request, so read once. Four queries."""
        opened = Ticket.objects.aggregate(first=Min("created_at"))["first"]
        since = watermark()
        return opened, stale_from(since), dirty_days(since)

    @functools.cached_property
    def rest_keys(self) -> list[int]:
        """The keys of `rest` (none for an admin): the same for every period, so read once
        (one query, which tests every ticket against the reader's visibility)."""
        if self.rest is None:
            return []
        return list(self.rest.order_by().values_list("pk", flat=True))

    def facts(self, period: Period) -> Facts | None:
        """The facts of the period: stored days that are fresh, the others from the tickets;
        None when no day of the period is rolled up and fresh (then the raw figures are
        fewer queries; one query then). Beside a day rolled up, the days before the first
        ticket's creation count as rolled up and empty. Two queries (six for the first period
        a source reads: `freshness`) plus about fifteen per stretch of days computed from the
        tickets (at most `MAX_RAW_STRETCHES`) and for the other tickets a lead may see (one
        query for their keys the first time, fifteen more if there are any)."""
        zone = site_zone()
        first = period.start.astimezone(zone).date()
        last = (period.end - dt.timedelta(microseconds=1)).astimezone(zone).date()
        rolled = set(
            RolledDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True)
        )
        if not rolled:
            return None
        # Days before the first ticket was created have no facts (every instant a ticket is
        # counted at lies after its creation): they count as rolled up, with no rows.
        opened, stale, marked = self.freshness
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        rolled.update(day for day in days if opened is None or day < _day(opened))
        fresh = {day for day in rolled if (stale is None or day < stale) and day not in marked}
        missing = _stretches([day for day in days if day not in fresh])
        if len(missing) > MAX_RAW_STRETCHES:  # one stretch keeps the queries bounded
            missing = [(missing[0][0], missing[-1][1])]
        used = [day for day in fresh if not any(a <= day <= b for a, b in missing)]
        if not used:
            return None
        total = Facts()
        # The used days are the period's but the missing stretches (at most three): bounds,
        # not a list of up to 732 days, whose parameters cost more to prepare than to read.
        rows = self.rows.filter(day__gte=first, day__lte=last)
        for stretch_first, stretch_last in missing:
            rows = rows.exclude(day__gte=stretch_first, day__lte=stretch_last)
        stored = rows.values_list("day", "level_id", "counts", "lengths", "durations")
        for day, level, counts, lengths, packed in stored:
            total.add_stored(day, level, counts, unpack(lengths, packed))
        for stretch_first, stretch_last in missing:
            total.add(merged(collect(self.live, day_period(stretch_first, stretch_last))))
        # Read by key: the remainder is few beside the teams' tickets (none: no query).
        if self.rest_keys:
            total.add(merged(collect(Ticket.objects.filter(pk__in=self.rest_keys), period)))
        return total


def source_for(user: Any, form: ReportForm, tickets: QuerySet[Ticket]) -> Source | None:
    """The rollups' source for `user`'s report in `form`'s slices (`tickets`: the visible,
    sliced tickets), or None when a slice the rows do not have is chosen."""
    chosen = {
        name
        for name in ReportForm.base_fields
        if name not in {"preset", "start", "end"}
        and name not in form.errors
        and form.cleaned_data.get(name) not in (None, "")
    }
    if chosen - ROLLED_SLICES:
        return None
    rows = DailyRollup.objects.order_by()
    slices = Q()
    for name in ROLLED_SLICES & chosen:
        value = form.cleaned_data[name]
        slices &= Q(**{f"{name}_id" if name != "priority" else name: getattr(value, "pk", value)})
    rows = rows.filter(slices)
    if user.is_superuser or user.has_perm("tickets.view_all_tickets"):
        return Source(rows=rows, live=tickets, rest=None)
    teams = list(agent_teams(user).values_list("pk", flat=True))
    # The rest (tickets visible beyond the teams: held before, assigned, followed, created) is
    # read by key in `Source.facts`, not with `visible_to`'s conditions over every ticket in
    # each of the fifteen queries of `collect`. The teams' own tickets need no visibility test
    # either: a lead sees every ticket of their teams.
    return Source(
        rows=rows.filter(team_id__in=teams),
        live=form.narrow(Ticket.objects.filter(team_id__in=teams)),
        rest=tickets.exclude(team_id__in=teams),
    )
