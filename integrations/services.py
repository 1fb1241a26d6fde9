"""Write operations of the integrations: service accounts, API tokens, alert integrations and
the alert intake. One use case per function, one transaction each; tickets change only
through `tickets.services`, so the SLA clock, the engine, notifications and the audit trail
hold for alerts as for the browser."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from api.models import ApiToken
from helpdesk import configcache
from helpdesk.db import update_rows
from integrations.alerts import Alert
from integrations.models import AlertGroup, Integration, ServiceAccount
from tickets import services as ticket_services
from tickets.models import Service, Team, Ticket
from tickets.services import NewTicket, StaleRequest

INTEGRATION_TOKEN_PREFIX = "hdi_"  # noqa: S105 - a marker, not a secret
TOKEN_NAME_MAX = 100
# Identical repeats of an alert go on its ticket's timeline at most this often (all counted).
REPEAT_NOTE_INTERVAL = timedelta(minutes=15)
# The longest life a token can be given (the API's own default lives in REST_KNOX).
TOKEN_DAYS_MAX = 3650


class IntegrationError(ValidationError):
    """A request about integrations that cannot be carried out; the message says why."""


# --- Service accounts -------------------------------------------------------------------------


def is_service_account(user: AbstractBaseUser | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and ServiceAccount.objects.filter(user_id=user.pk).exists()
    )


@transaction.atomic
def service_account_create(
    *, username: str, description: str = "", teams: Iterable[Team] = ()
) -> ServiceAccount:
    """A new machine user: no usable password (so no browser or Basic sign-in), never staff.
    Joining `teams` makes it an agent of them (it may then move their tickets)."""
    User = get_user_model()
    username = username.strip()
    if not username:
        raise IntegrationError({"username": _("A name is required.")})
    try:
        User.username_validator(username)
        if len(username) > User._meta.get_field("username").max_length:
            raise ValidationError(_("At most 150 characters."))
    except ValidationError as error:
        raise IntegrationError({"username": error.messages}) from error
    if User.objects.filter(username__iexact=username).exists():
        raise IntegrationError({"username": _("A user with this name exists already.")})
    user = User(username=username, is_staff=False, is_superuser=False)
    user.set_unusable_password()
    user.save()
    account = ServiceAccount.objects.create(user=user, description=description)
    for team in teams:
        team.members.add(user)
    return account


# --- API tokens --------------------------------------------------------------------------------


def token_create(*, user: AbstractBaseUser, name: str, days: int | None) -> tuple[ApiToken, str]:
    """A named API token for `user` that expires after `days` (None: never). Returns the
    stored row and the secret, which exists only in this answer (only its digest is kept).
    A name the user's tokens already have is refused, so a form sent twice makes one."""
    name = name.strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        raise IntegrationError({"name": _("Give the token a name of at most 100 characters.")})
    if days is not None and not 1 <= days <= TOKEN_DAYS_MAX:
        raise IntegrationError(
            {"days": _("Between 1 and %(most)s days.") % {"most": TOKEN_DAYS_MAX}}
        )
    if not user.is_active:
        raise IntegrationError({"user": _("This user is not active.")})
    expiry = timedelta(days=days) if days is not None else None
    with transaction.atomic():
        # The user's row is the lock: a double submit (or two at once) makes one token.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values("pk"))
        if ApiToken.objects.filter(user=user, name=name).exists():
            raise IntegrationError({"name": _("There is already a token with this name.")})
        return ApiToken.objects.create(user=user, name=name, expiry=expiry)


def token_revoke(*, actor: AbstractBaseUser, key: str, own_only: bool = False) -> int:
    """Revoke the token with key prefix `key` of `actor` (an admin, unless `own_only`: anyone's).
    Returns how many were revoked (0 when there is no such token of theirs)."""
    tokens = ApiToken.objects.filter(token_key=key)
    if own_only or not actor.is_superuser:
        tokens = tokens.filter(user=actor)
    deleted, _rows = tokens.delete()
    return deleted


# --- Alert integrations ------------------------------------------------------------------------


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_integration_secret() -> str:
    return INTEGRATION_TOKEN_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def integration_save(*, integration: Integration) -> str | None:
    """Save an integration made or changed in the admin. A new one gets a token (returned,
    once) and, without a service account, one of its own that joins the target team, so it
    may open and resolve that team's tickets. Returns the new secret, or None."""
    integration.full_clean(exclude=["account", "token_digest", "token_prefix"])
    secret = None
    if integration.pk is None:
        if integration.account_id is None:
            integration.account = service_account_create(
                username=_unique_username(f"integration-{integration.name}"),
                teams=[integration.team],
            )
        secret = new_integration_secret()
        integration.token_digest = token_digest(secret)
        integration.token_prefix = secret[:12]
    integration.save()
    return secret


def _unique_username(base: str) -> str:
    User = get_user_model()
    stem = "".join(c if c.isalnum() or c in "-_.@" else "-" for c in base.lower())[:140]
    candidate, n = stem, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


@transaction.atomic
def integration_rotate_token(*, integration: Integration) -> str:
    """A new token for `integration`; the old one stops working now. Returns the secret."""
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    secret = new_integration_secret()
    integration.token_digest = token_digest(secret)
    integration.token_prefix = secret[:12]
    integration.save(update_fields=["token_digest", "token_prefix"])
    return secret


def _active_integrations() -> dict[str, Integration]:
    """Every active integration by its token's digest, with what opening a ticket reads of its
    team (its level, the team above) and its service account's user."""
    return {
        integration.token_digest: integration
        for integration in Integration.objects.select_related(
            "account__user", "team__level", "team__escalates_to__level", "service"
        ).filter(is_active=True)
    }


def integration_for_token(secret: str) -> Integration | None:
    """The active integration whose token is `secret`, or None.

    Read from the per-process configuration cache (`helpdesk.configcache`; watched in
    `IntegrationsConfig.ready`): a monitoring system sends alerts many times a second, and
    reading the integration with its team and account was a fifth of an alert's CPU. Saving
    an integration (rotating its token, deactivating it), its service account, its team or
    its account's user (`user_changed`) reads them anew in every process."""
    if not secret.startswith(INTEGRATION_TOKEN_PREFIX) or len(secret) > 200:
        return None
    return configcache.cached("integrations.by_token", _active_integrations).get(
        token_digest(secret)
    )


def user_changed(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    """post_save of the user model: a change of an integration's service account (deactivated,
    say) is a configuration change, as the cached integrations hold their users. A sign-in
    (which saves `last_login` only) is not."""
    if set(kwargs.get("update_fields") or ()) == {"last_login"}:
        return
    if Integration.objects.filter(account__user_id=instance.pk).exists():
        configcache.changed()


# --- The alert intake --------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertOutcome:
    dedup_key: str
    action: str  # one of the ACTIONS below
    ticket: Ticket | None
    count: int


CREATED, APPENDED, RESOLVED, NOTED, IGNORED = "created", "appended", "resolved", "noted", "ignored"


# The columns of an open group a taken alert changes; written for all of a request's groups at
# once (`alerts_ingest`).
GROUP_FIELDS = [
    "count",
    "last_seen_at",
    "labels",
    "noted_at",
    "noted_digest",
    "ticket",
    "service_unmatched",
]

# What an alert's service label may say, lowered, to the active service it names.
ServiceNames = dict[str, Service]


def _service_catalogue() -> ServiceNames:
    """Every active service under its names and slugs in lower case (English, then German;
    the first service with a name keeps it)."""
    names: ServiceNames = {}
    services = list(Service.objects.filter(is_active=True).order_by("pk"))
    for key_of in (
        lambda s: s.name,
        lambda s: slugify(s.name),
        lambda s: s.name_de,
        lambda s: slugify(s.name_de),
    ):
        for service in services:
            if key := key_of(service).strip().lower():
                names.setdefault(key, service)
    return names


def service_names(integration: Integration, alerts: Iterable[Alert]) -> ServiceNames:
    """What the service label of `alerts` may name, read once per request: the per-process
    catalogue (`helpdesk.configcache`; `Service` is watched), and nothing at all when no alert
    carries the label."""
    label = integration.service_label
    if not label or not any(alert.labels.get(label, "").strip() for alert in alerts):
        return {}
    return configcache.cached("integrations.service_names", _service_catalogue)


def affected_service(
    integration: Integration, alert: Alert, names: ServiceNames
) -> tuple[Service | None, str]:
    """The service a ticket that `alert` opens names as affected, and the label's value when
    it named none ("" otherwise): the service label's value matched to a service by name or
    slug, case-insensitive, else the integration's default service."""
    value = (
        alert.labels.get(integration.service_label, "").strip() if integration.service_label else ""
    )
    if not value:
        return integration.service, ""
    service = names.get(value.lower())
    if service is None:
        return integration.service, value[:255]
    return service, ""


def alert_ingest(
    *,
    integration: Integration,
    alert: Alert,
    now: datetime | None = None,
    locked: dict[str, AlertGroup | None] | None = None,
    touched: set[AlertGroup] | None = None,
    names: ServiceNames | None = None,
) -> AlertOutcome:
    """Take one alert: a new key opens a ticket (channel monitoring), a repeat while that
    ticket is active adds the alert as a message and counts it, a resolved alert adds a
    message and, if the integration says so, resolves the ticket.

    Concurrent identical alerts open one ticket: the open group of a key is unique
    (`alert_group_one_open`); the first request inserts it, the others wait on that insert,
    then find the group and join it under its row lock. A "resolved" for a key with nothing
    open (a resend) does nothing. `locked`: the open groups of a request's keys, locked by
    `lock_open_groups` (kept current here; a key not there is read here). `touched`: collects
    the groups whose `GROUP_FIELDS` changed, for the caller to write at once (`alerts_ingest`);
    without it they are saved here. `names`: what the request's service labels may name
    (`service_names`; read here when not given)."""
    now = now or timezone.now()
    actor = integration.account.user
    if names is None:
        names = service_names(integration, [alert])
    # No savepoint: an error fails the whole request (`alerts_ingest` is all or none).
    with transaction.atomic(savepoint=False):
        if locked is not None and alert.dedup_key in locked:
            group = locked[alert.dedup_key]
        else:
            group = _open_group(integration, alert.dedup_key)
        if group is None and alert.firing:
            # A new key (or a concurrent first): insert unless another request just did; the
            # insert waits for that request's commit, then the lock below finds its row.
            AlertGroup.objects.bulk_create(
                [_new_group(integration, alert, now)], ignore_conflicts=True
            )
            group = _open_group(integration, alert.dedup_key)
        outcome, group = _take(integration, group, alert, actor, now, names)
        if locked is not None:
            locked[alert.dedup_key] = group if group is not None and group.is_open else None
        if outcome.action in (CREATED, APPENDED):
            if touched is not None:
                touched.add(group)
            else:
                group.save(update_fields=GROUP_FIELDS)
        return outcome


def _take(
    integration: Integration,
    group: AlertGroup | None,
    alert: Alert,
    actor: AbstractBaseUser,
    now: datetime,
    names: ServiceNames,
) -> tuple[AlertOutcome, AlertGroup | None]:
    """`alert_ingest` once its open group is found: the outcome, and the group it went to
    (its `GROUP_FIELDS` changed in memory, not saved, when the outcome is CREATED or
    APPENDED)."""
    if group is None:
        return AlertOutcome(alert.dedup_key, IGNORED, None, 0), None
    if not alert.firing:
        return _resolve(integration, group, alert, actor, now), group
    if group.ticket is not None and not group.ticket.is_active:
        # Someone resolved or closed the ticket while the alert kept firing: a new incident.
        _close(group, now)
        group = AlertGroup.objects.create(**_group_fields(integration, alert, now))
    if group.ticket is None:
        service, unmatched = affected_service(integration, alert, names)
        (ticket,) = ticket_services.tickets_create(
            actor=actor, data=[_new_ticket(integration, alert, service)], now=now
        )
        _opened(group, ticket, alert, now, unmatched)
        return AlertOutcome(alert.dedup_key, CREATED, group.ticket, group.count), group
    group.count += 1
    group.last_seen_at = now
    group.labels = dict(alert.labels)
    if _worth_noting(group, alert, now):
        _add_message(group.ticket, integration, alert, now)
        group.noted_at, group.noted_digest = now, _digest(alert)
    return AlertOutcome(alert.dedup_key, APPENDED, group.ticket, group.count), group


def _new_ticket(integration: Integration, alert: Alert, service: Service | None) -> NewTicket:
    impact, urgency = integration.impact_urgency(alert.severity)
    return NewTicket(
        subject=alert.subject,
        description=alert.body,
        team=integration.team,
        impact=impact,
        urgency=urgency,
        channel=Ticket.Channel.MONITORING,
        service=service,
    )


def _opened(group: AlertGroup, ticket: Ticket, alert: Alert, now: datetime, unmatched: str) -> None:
    """`group`'s first firing alert opened `ticket` (in memory; the caller saves);
    `unmatched`: its service label's value if that named no service."""
    group.ticket = ticket
    group.service_unmatched = unmatched
    group.count += 1
    group.last_seen_at = now
    group.labels = dict(alert.labels)
    group.noted_at, group.noted_digest = now, _digest(alert)


def _open_group(integration: Integration, key: str) -> AlertGroup | None:
    return (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(integration=integration, dedup_key=key, is_open=True)
        .first()
    )


def lock_open_groups(
    integration: Integration, alerts: list[Alert], now: datetime
) -> dict[str, AlertGroup | None]:
    """The open group of each key of `alerts`, locked, in three statements however many:
    read the open ones, insert those the key's first alert opens (a firing one; a concurrent
    first insert wins, see `alert_ingest`), read those. Rows are locked in key order, as
    `alerts_ingest` takes the alerts. None for a key without an open group."""
    first: dict[str, Alert] = {}
    for alert in alerts:
        first.setdefault(alert.dedup_key, alert)
    keys = sorted(first)
    groups: dict[str, AlertGroup | None] = dict.fromkeys(keys)
    groups.update(_open_groups(integration, keys))
    missing = [key for key in keys if groups[key] is None and first[key].firing]
    if missing:
        AlertGroup.objects.bulk_create(
            [_new_group(integration, first[key], now) for key in missing], ignore_conflicts=True
        )
        groups.update(_open_groups(integration, missing))
    return groups


def _open_groups(integration: Integration, keys: list[str]) -> dict[str, AlertGroup]:
    if connection.vendor == "postgresql":
        return {group.dedup_key: group for group in locked_groups_sql(integration.pk, keys)}
    return {
        group.dedup_key: group
        for group in AlertGroup.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(integration=integration, dedup_key__in=keys, is_open=True)
        .order_by("dedup_key")
    }


@functools.cache
def _group_read() -> tuple[str, list[tuple[Any, list[Any]]], int]:
    """The statement of `locked_groups_sql` (composed once per process), each column's field
    with the converters Django applies to it when reading (JSON, time zones), and the number
    of the group's columns."""
    quote = connection.ops.quote_name
    group_fields = AlertGroup._meta.concrete_fields
    ticket_fields = Ticket._meta.concrete_fields
    columns = [f"g.{quote(field.column)}" for field in group_fields]
    columns += [f"t.{quote(field.column)}" for field in ticket_fields]
    converters = []
    for field in (*group_fields, *ticket_fields):
        col = field.get_col(field.model._meta.db_table)
        converters.append(
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    group_table, ticket_table = AlertGroup._meta.db_table, Ticket._meta.db_table
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(group_table)} g "  # noqa: S608 - model names
        f"LEFT JOIN {quote(ticket_table)} t ON t.{quote(Ticket._meta.pk.column)} = "
        f"g.{quote(AlertGroup._meta.get_field('ticket').column)} "
        f"WHERE g.{quote(AlertGroup._meta.get_field('integration').column)} = %s "
        "AND g.dedup_key = ANY(%s) AND g.is_open ORDER BY g.dedup_key FOR UPDATE OF g"
    )
    return sql, converters, len(group_fields)


def locked_groups_sql(integration_id: int, keys: list[str]) -> list[AlertGroup]:
    """The open groups of `keys`, locked in key order, with their tickets: what the ORM query
    of `_open_groups` reads, in a statement composed once per process (composing that query,
    with every column of the ticket, was a third of a repeated alert's CPU). The rows are
    made as the ORM makes them (`Model.from_db`, each column through its converters)."""
    sql, converters, split = _group_read()
    with connection.cursor() as cursor:
        cursor.execute(sql, [integration_id, keys])
        rows = cursor.fetchall()
    groups = []
    for row in rows:
        values = []
        for value, (col, col_converters) in zip(row, converters, strict=True):
            for converter in col_converters:
                value = converter(value, col, connection)
            values.append(value)
        group = AlertGroup.from_db(
            connection.alias, [f.attname for f in AlertGroup._meta.concrete_fields], values[:split]
        )
        ticket = None
        if group.ticket_id is not None:
            ticket = Ticket.from_db(
                connection.alias,
                [f.attname for f in Ticket._meta.concrete_fields],
                values[split:],
            )
        AlertGroup.ticket.field.set_cached_value(group, ticket)
        groups.append(group)
    return groups


def _digest(alert: Alert) -> str:
    return hashlib.sha256(alert.body.encode()).hexdigest()


def _worth_noting(group: AlertGroup, alert: Alert, now: datetime) -> bool:
    """Whether a repeat goes on the ticket's timeline: when it says something new, or the
    last entry is REPEAT_NOTE_INTERVAL old. Identical repeats in between (an alert storm, a
    group resent because another alert joined it) are counted on the group only, so they do
    not bury the ticket's timeline, nor wake the engine for nothing."""
    if group.noted_at is None or group.noted_digest != _digest(alert):
        return True
    return now - group.noted_at >= REPEAT_NOTE_INTERVAL


def alerts_ingest(
    *, integration: Integration, alerts: Iterable[Alert], now: datetime | None = None
) -> list[AlertOutcome]:
    """Take the alerts of one request together: all or none (a retry after a failure then
    repeats nothing). Their keys are locked in a fixed order, so two requests sharing keys
    wait for each other instead of deadlocking. Outcomes in the request's order.

    Set-based where the outcome is the same as taking the alerts one by one in key order:
    the tickets that keys' first firing alerts open are opened together
    (`tickets.services.tickets_create`), and the groups' counters are written in one
    statement at the end. Repeats that go on a timeline, resolutions and reopened incidents
    are taken one by one."""
    now = now or timezone.now()
    alerts = list(alerts)
    if not integration.team.is_active:
        raise IntegrationError({"team": _("The integration's team is not active.")})
    order = sorted(range(len(alerts)), key=lambda i: alerts[i].dedup_key)
    outcomes: dict[int, AlertOutcome] = {}
    touched: set[AlertGroup] = set()
    with transaction.atomic():
        locked = lock_open_groups(integration, alerts, now)
        # A key's first alert, firing, with an open group without a ticket: it opens one
        # (taken alone it would too); the key's later alerts then find that ticket. Only
        # before the first resolution in key order: a ticket opened after a resolved one on
        # the same service sees it (the recurrence signal), so later keys are taken one by one.
        first: dict[str, int] = {}
        for position, i in enumerate(order):
            alert = alerts[i]
            if not alert.firing and locked.get(alert.dedup_key) is not None:
                order_opening = order[:position]
                break
        else:
            order_opening = order
        for i in order_opening:
            first.setdefault(alerts[i].dedup_key, i)
        opening = {
            key: i
            for key, i in first.items()
            if alerts[i].firing and (group := locked.get(key)) is not None and group.ticket is None
        }
        # The service labels' names are read once for the request, not per ticket.
        names = service_names(integration, alerts)
        if opening:
            affected = {
                i: affected_service(integration, alerts[i], names) for i in opening.values()
            }
            tickets = ticket_services.tickets_create(
                actor=integration.account.user,
                data=[
                    _new_ticket(integration, alerts[i], affected[i][0]) for i in opening.values()
                ],
                now=now,
            )
            for (key, i), ticket in zip(opening.items(), tickets, strict=True):
                group = locked[key]
                _opened(group, ticket, alerts[i], now, affected[i][1])
                touched.add(group)
                outcomes[i] = AlertOutcome(key, CREATED, ticket, group.count)
        for i in order:
            if i not in outcomes:
                outcomes[i] = alert_ingest(
                    integration=integration,
                    alert=alerts[i],
                    now=now,
                    locked=locked,
                    touched=touched,
                    names=names,
                )
        if touched:
            # One statement (`UPDATE … FROM UNNEST` on PostgreSQL): composing `bulk_update`'s
            # CASE per column was a fifth of a repeated alert's CPU.
            update_rows(AlertGroup, sorted(touched, key=lambda g: g.pk), GROUP_FIELDS)
    return [outcomes[i] for i in range(len(alerts))]


def _group_fields(integration: Integration, alert: Alert, now: datetime) -> dict:
    return {
        "integration": integration,
        "dedup_key": alert.dedup_key,
        "severity": alert.severity[:100],
        "labels": dict(alert.labels),
        "started_at": alert.started_at,
        "first_seen_at": now,
        "last_seen_at": now,
        "is_open": True,
    }


def _new_group(integration: Integration, alert: Alert, now: datetime) -> AlertGroup:
    return AlertGroup(**_group_fields(integration, alert, now))


def _close(group: AlertGroup, now: datetime) -> None:
    group.is_open = False
    group.resolved_at = now
    group.save(update_fields=["is_open", "resolved_at"])


def _add_message(ticket: Ticket, integration: Integration, alert: Alert, now: datetime) -> None:
    """The alert on the ticket's timeline, in the monitoring system's words, written by the
    integration's service account (as the customer side: it is not an agent's progress)."""
    ticket_services.ticket_add_customer_message(
        ticket=ticket,
        body=alert.body,
        author_name=integration.name,
        actor=integration.account.user,
        now=now,
    )


def _resolve(
    integration: Integration,
    group: AlertGroup,
    alert: Alert,
    actor: AbstractBaseUser,
    now: datetime,
) -> AlertOutcome:
    _close(group, now)
    ticket = group.ticket
    if ticket is None or not ticket.is_active:
        return AlertOutcome(alert.dedup_key, IGNORED, ticket, group.count)
    _add_message(ticket, integration, alert, now)
    if not integration.resolve_tickets:
        return AlertOutcome(alert.dedup_key, NOTED, ticket, group.count)
    try:
        with transaction.atomic():
            ticket_services.ticket_transition(ticket=ticket, actor=actor, name="resolve", now=now)
    except (PermissionDenied, TransitionNotAllowed, StaleRequest):
        # The ticket moved where the service account may not act (escalated to another team),
        # or its status does not allow it: the message says the alert resolved; people decide.
        return AlertOutcome(alert.dedup_key, NOTED, ticket, group.count)
    ticket.refresh_from_db()
    return AlertOutcome(alert.dedup_key, RESOLVED, ticket, group.count)
