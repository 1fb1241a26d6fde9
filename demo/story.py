"""The demo's story as data: `demo/story/*.json` read into frozen dataclasses.

`organisation.json` holds the levels, teams, people and customers (names are the idempotency
keys: levels by rank, teams by name, users by user name, customers by name); `texts.json` the
German and English ticket texts by category and the conversation pieces shared by all
categories; `scenarios.json` how the history is shaped (ages, outcomes, acknowledgement times,
what is left open at the end). Placeholders in texts, filled per ticket: {contact} {customer}
{product} {since} {time} {date} {error} {endpoint} {host} {count} {order} {invoice} {amount}
{device} {serial}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

STORY_DIR = Path(__file__).resolve().parent / "story"


def _read(name: str) -> Any:
    with (STORY_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class TeamSpec:
    key: str
    name: str
    kind: str
    rank: int
    escalates_to: str | None
    email: str
    lead: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    kind: str
    tier: str
    is_vip: bool
    contract: str
    lang: str
    contact: str
    salutation: str
    email: str
    phone: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Case:
    """A subject with the description that goes with it; its own notes/solutions if it has any."""

    subject: str
    description: str
    notes: tuple[str, ...] = ()
    solutions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Texts:
    cases: tuple[Case, ...]
    asks: tuple[str, ...] = ()  # the agent asks for something and waits (pending)
    answers: tuple[str, ...] = ()  # the customer's answer to that
    notes: tuple[str, ...] = ()  # internal notes, for cases without their own
    solutions: tuple[str, ...] = ()  # the resolving reply, for cases without their own


@dataclass(frozen=True)
class Category:
    """A kind of request: where it goes, how severe it tends to be, and what is said."""

    key: str
    route: str  # TeamSpec.key of the owning team; "desk" = the Service Desk of the language
    weight: int  # how common it is
    impacts: tuple[int, ...]
    urgencies: tuple[int, ...]
    channels: tuple[str, ...]
    escalate: float  # chance that it climbs the chain (tier teams only)
    via_desk: float = 0.0  # chance that it arrives at the Service Desk and is handed over
    technical: bool = False  # a fault that can come back (follow-ups and reopens say so)
    internal: bool = False  # raised by a system: no customer to talk to
    texts: tuple[tuple[str, Texts], ...] = ()

    def for_lang(self, lang: str) -> Texts:
        found = dict(self.texts)
        return found.get(lang) or found["en"]


@dataclass(frozen=True)
class Organisation:
    levels: tuple[tuple[int, str, str], ...]  # rank, name, mandate
    admin_username: str
    admin_password: str
    lead_password: str
    agent_password: str
    people: dict[str, tuple[str, str]]  # user name -> (first, last)
    teams: tuple[TeamSpec, ...]  # top of the chain first: every `escalates_to` exists before
    customers: tuple[CustomerSpec, ...]


Phrases = dict[str, tuple[str, ...]]  # language -> options


@dataclass(frozen=True)
class Conversation:
    """What is said in every category, by language."""

    signature: dict[str, str]
    default_salutation: dict[str, str]
    acks: Phrases
    updates: Phrases
    follow_ups: Phrases
    technical_follow_ups: Phrases
    reopens: Phrases
    questions: Phrases
    question_replies: Phrases
    reopen_replies: Phrases
    handover_reasons: Phrases
    escalation_reasons: Phrases
    escalation_notes: Phrases
    priority_up: dict[str, str]
    priority_down: dict[str, str]
    deescalation_reasons: Phrases  # a lead hands an escalated ticket back down


def _texts(data: dict[str, Any]) -> Texts:
    return Texts(
        cases=tuple(
            Case(
                subject=case["subject"],
                description=case["description"],
                notes=tuple(case.get("notes", ())),
                solutions=tuple(case.get("solutions", ())),
            )
            for case in data["cases"]
        ),
        **{key: tuple(data.get(key, ())) for key in ("asks", "answers", "notes", "solutions")},
    )


def _phrases(data: dict[str, Any]) -> Any:
    return {
        lang: (tuple(options) if isinstance(options, list) else options)
        for lang, options in data.items()
    }


@cache
def organisation() -> Organisation:
    data = _read("organisation.json")
    return Organisation(
        levels=tuple((lv["rank"], lv["name"], lv["description"]) for lv in data["levels"]),
        admin_username=data["admin"]["username"],
        admin_password=data["admin"]["password"],
        lead_password=data["passwords"]["lead"],
        agent_password=data["passwords"]["agent"],
        people={name: (first, last) for name, (first, last) in data["people"].items()},
        teams=tuple(
            TeamSpec(**{**team, "members": tuple(team["members"])}) for team in data["teams"]
        ),
        customers=tuple(CustomerSpec(**customer) for customer in data["customers"]),
    )


@cache
def categories() -> tuple[Category, ...]:
    return tuple(
        Category(
            **{
                **data,
                "impacts": tuple(data["impacts"]),
                "urgencies": tuple(data["urgencies"]),
                "channels": tuple(data["channels"]),
                "texts": tuple((lang, _texts(t)) for lang, t in data["texts"].items()),
            }
        )
        for data in _read("texts.json")["categories"]
    )


@cache
def conversation() -> Conversation:
    data = _read("texts.json")["conversation"]
    return Conversation(**{key: _phrases(value) for key, value in data.items()})


@cache
def fill_values() -> dict[str, tuple[str, ...]]:
    """The values placeholders are drawn from (products, errors, hosts, devices...)."""
    return {key: tuple(values) for key, values in _read("texts.json")["fill"].items()}


@cache
def scenarios() -> dict[str, Any]:
    """How the history is shaped; see `scenarios.json` and `demo.plan`."""
    return _read("scenarios.json")
