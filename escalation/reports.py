"""What an evaluation or a sweep did (or, in a dry run, would do): plain values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What one evaluation of one ticket did (or, in a dry run, would do)."""

    ticket_id: int
    reference: str
    fired: list[str] = field(default_factory=list)
    sla_events: list[str] = field(default_factory=list)
    next_check_at: dt.datetime | None = None


@dataclass
class SweepReport:
    examined: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    bulk: int = 0  # tickets the set-based lane decided and wrote (escalation/bulk.py)
    single: int = 0  # tickets evaluated one at a time through the services

    @property
    def fired(self) -> int:
        return sum(len(o.fired) for o in self.outcomes)

    @property
    def sla_events(self) -> int:
        return sum(len(o.sla_events) for o in self.outcomes)
