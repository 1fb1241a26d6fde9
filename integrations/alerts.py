"""Alerts as the intake sees them, whatever format they came in (pure: no database).

Two formats are read (docs/integrations.md): Prometheus Alertmanager's webhook payload
(version "4") as Alertmanager sends it, and a generic JSON event modelled on PagerDuty's
Events API (`dedup_key`, `action` "trigger" or "resolve"). Both become `Alert` values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Alertmanager's "no end yet" instant: an alert that has not ended carries it in `endsAt`.
ZERO_TIME_PREFIX = "0001-01-01"
SUBJECT_MAX = 200
ALERT_STATUSES = ("firing", "resolved")  # Alertmanager's, for an alert and a notification


@dataclass(frozen=True)
class Alert:
    dedup_key: str
    firing: bool  # False: the alert resolved
    summary: str
    description: str = ""
    severity: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    links: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return (self.summary.strip() or self.dedup_key)[:SUBJECT_MAX]

    @property
    def body(self) -> str:
        """The alert's own words for the ticket: its summary, description, labels and links
        (as the monitoring system sent them; nothing of ours to translate)."""
        parts = [self.summary.strip(), self.description.strip()]
        parts.append("\n".join(f"{key}={value}" for key, value in sorted(self.labels.items())))
        parts.append("\n".join(self.links))
        return "\n\n".join(part for part in parts if part) or self.dedup_key


def _key_of(group_key: str, labels: Mapping[str, str]) -> str:
    """A stable key for an alert without a fingerprint: its group and its label set."""
    raw = json.dumps([group_key, sorted(labels.items())], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def from_alertmanager(payload: Mapping[str, Any], *, severity_label: str) -> list[Alert]:
    """The alerts of one (validated) Alertmanager notification. Each alert's key is its
    `fingerprint` (stable per label set), else a digest of the group key and its labels."""
    group_key = str(payload.get("groupKey") or "")
    common = payload.get("commonAnnotations") or {}
    alerts = []
    for item in payload["alerts"]:
        labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
        annotations = {str(k): str(v) for k, v in (item.get("annotations") or {}).items()}
        summary = (
            annotations.get("summary")
            or annotations.get("title")
            or common.get("summary")
            or " ".join(v for v in (labels.get("alertname"), labels.get("instance")) if v)
        )
        links = tuple(
            str(v) for v in (annotations.get("runbook_url"), item.get("generatorURL")) if v
        )
        alerts.append(
            Alert(
                dedup_key=str(item.get("fingerprint") or "") or _key_of(group_key, labels),
                firing=item["status"] == "firing",
                summary=str(summary or ""),
                description=annotations.get("description", "")
                or str(common.get("description") or ""),
                severity=labels.get(severity_label, ""),
                labels=labels,
                started_at=item.get("startsAt"),
                links=links,
            )
        )
    return alerts


def from_generic(payload: Mapping[str, Any]) -> Alert:
    """The alert of one (validated) generic event."""
    return Alert(
        dedup_key=payload["dedup_key"],
        firing=payload["action"] == "trigger",
        summary=payload.get("summary", ""),
        description=payload.get("description", ""),
        severity=payload.get("severity", ""),
        labels={str(k): str(v) for k, v in (payload.get("labels") or {}).items()},
        started_at=payload.get("started_at"),
        links=tuple(payload.get("links") or ()),
    )
