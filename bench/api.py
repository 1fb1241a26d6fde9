"""Benchmark of the REST API against gunicorn on 127.0.0.1 with PostgreSQL (prints figures).

Seeds N tickets (default 100,000) with SLA and escalation state, starts gunicorn (2 workers,
the deployed settings), and measures from one client, sequentially:
  * the floor: a DRF view returning one ticket row by primary key, same token authentication;
  * the ticket list (a page of 50, SLA and escalation state embedded), unfiltered and filtered;
  * the ticket detail;
  * ticket creation (SLA clock and escalation engine included), in tickets per second;
  * alert intake (`POST /api/v1/alerts/`, an integration's token), half of the alerts new
    keys (each opens a ticket) and half repeats, one alert per request and Alertmanager
    notifications of 10, in alerts per second (target: at least 200);
the CPU time the gunicorn workers spent per request (read from /proc: a figure the machine's
load inflates far less than the wall-clock times), and, in-process, the SQL statements each
of those requests runs.

Usage: python bench/api.py [--tickets 100000] [--requests 200]
Database: BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helpdesk_bench_api
(dropped and created anew).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The alert payloads are bench/alerts.py's (bench/ is on the path as the script's folder).
from alerts import alertmanager  # noqa: E402
from alerts import generic as generic_alert  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_api"
SECRET = "bench-only-secret-key-" + "x" * 40
ALERT_ONE = "alerts, 1 per request"
ALERT_BATCH = "alerts, Alertmanager 10/request"
ALERT_TARGET = 200


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.api_settings",
        "DEMO": "false",
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "100000000/hour",
        "API_TOKEN_THROTTLE_RATE": "100000000/hour",
        "ALERTS_THROTTLE_RATE": "100000000/hour",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def seed(total: int) -> dict[str, object]:
    """`total` tickets of one team, with SLA due instants spread around now (some warned, some
    breached), a tenth with an open escalation; an agent of that team with an API token."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from api.models import ApiToken
    from escalation.models import Escalation
    from sla.models import SLAPolicy
    from tickets.models import Customer, SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    call_command("migrate", verbosity=0)
    User = get_user_model()
    now = dt.datetime.now(dt.UTC)
    agent = User.objects.create_user("bench-agent", password="x")  # noqa: S106
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    team2 = Team.objects.create(name="Experts", level=level2, lead=agent)
    team = Team.objects.create(name="Service desk", level=level1, escalates_to=team2, lead=agent)
    team.members.add(agent)
    customers = Customer.objects.bulk_create([Customer(name=f"Customer {i}") for i in range(50)])
    # The default policies: Sev 1 around the clock, the rest on office hours with German
    # holidays (the list shows each target's business time left on its policy's calendar).
    sev1 = SLAPolicy.objects.get(name="Sev 1 around the clock")
    office = SLAPolicy.objects.get(name="Standard office hours")
    rng = random.Random(7)
    batch = 5000
    for start in range(0, total, batch):
        size = min(batch, total - start)
        refs = allocate_references(now.year, size)
        rows = []
        for i, ref in enumerate(refs):
            created = now - dt.timedelta(minutes=rng.randint(10, 60 * 24 * 60))
            due = created + dt.timedelta(hours=rng.choice([4, 8, 24, 72]))
            priority = rng.randint(1, 4)
            rows.append(
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {start + i}",
                    description="Something is broken.",
                    team=team,
                    level=level1,
                    customer=customers[(start + i) % len(customers)],
                    status=rng.choice(["new", "open", "open", "pending", "resolved"]),
                    priority=priority,
                    sla_policy=sev1 if priority == 1 else office,
                    created_at=created,
                    updated_at=created,
                    cycle_started_at=created,
                    first_response_due_at=due,
                    first_response_warning_at=due - dt.timedelta(hours=1),
                    first_response_breached_at=due if due < now else None,
                    resolution_due_at=due + dt.timedelta(days=2),
                    resolution_warning_at=due + dt.timedelta(days=1),
                    next_check_at=due,
                    risk_score=rng.randint(0, 80),
                )
            )
        Ticket.objects.bulk_create(rows)
    escalated = list(Ticket.objects.order_by("?").values_list("id", flat=True)[: total // 10])
    Escalation.objects.bulk_create(
        [
            Escalation(
                ticket_id=pk,
                kind="hierarchical",
                from_team=team,
                to_team=team2,
                from_level=level1,
                to_level=level2,
                raised_at=now - dt.timedelta(minutes=30),
                ack_due_at=now + dt.timedelta(minutes=30),
                cycle=0,
            )
            for pk in escalated
        ],
        batch_size=5000,
    )
    token, secret = ApiToken.objects.create(user=agent, name="bench")
    from integrations import services as integration_services
    from integrations.models import Integration

    integration = Integration(name="Bench monitoring", team=team)
    alert_secret = integration_services.integration_save(integration=integration)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    references = list(Ticket.objects.values_list("reference", flat=True)[:2000])
    first_pk = Ticket.objects.order_by("pk").values_list("pk", flat=True).first()
    return {
        "token": secret,
        "alert_token": alert_secret,
        "team": team.pk,
        "references": references,
        "pk": first_pk,
        # The rate counters this run leaves in the shared cache (its users' ids are the
        # test database's too): dropped at the end, or tests would start throttled.
        "throttle_keys": [
            f"throttle_user_{agent.pk}",
            f"throttle_token_{token.token_key}",
            f"throttle_alerts_{integration.pk}",
        ],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, token: str, body: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    scheme = "Bearer" if token.startswith("hdi_") else "Token"  # an integration's token
    headers = {"Authorization": f"{scheme} {token}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    start = time.perf_counter()
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
    return elapsed, data


def worker_cpu(master: int) -> float:
    """CPU seconds (user and system) the gunicorn workers of `master` have used so far."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def timed(port: int, token: str, count: int, make, master: int) -> tuple[list[float], float]:
    """Each request's wall time (ms), and the workers' CPU ms per request."""
    for i in range(min(10, count)):  # warm-up: each worker's first requests load code
        method, path, body = make(10_000 + i)
        request(port, method, path, token, body)
    times = []
    cpu = worker_cpu(master)
    for i in range(count):
        method, path, body = make(i)
        times.append(request(port, method, path, token, body)[0])
    return times, (worker_cpu(master) - cpu) * 1000 / count


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def alert_key(prefix: str, j: int) -> str:
    """The `j`th alert's key: every other one new, the rest a repeat of an earlier new one."""
    if j % 2 == 0:
        return f"{prefix}{j}"
    return f"{prefix}{(j - 1) - 2 * ((j * 7919) % ((j + 1) // 2))}"


def in_process(
    tokens: dict[str, str], cases: dict, count: int
) -> tuple[dict[str, int], dict[str, list]]:
    """Each request's SQL statements (after one warm-up request), and its time through
    Django's test client in this process (no HTTP, no gunicorn: how django-helpdesk's harness
    measures its endpoints)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME="127.0.0.1")
    counts, times = {}, {}
    for name, make in cases.items():
        token = tokens.get(name, tokens[""])
        scheme = "Bearer" if token.startswith("hdi_") else "Token"
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
        # One request first, unmeasured: a serving process has read the configuration it
        # caches (`helpdesk.configcache`) and the calendars long before; the count is that of
        # the steady state.
        method, path, body = make(9_999)
        getattr(client, method.lower())(path, body, format="json")
        method, path, body = make(10_000)
        with CaptureQueriesContext(connection) as ctx:
            response = getattr(client, method.lower())(path, body, format="json")
        assert response.status_code < 400, (name, response.status_code, response.content[:200])
        counts[name] = len(ctx)
        times[name] = []
        for i in range(count):
            method, path, body = make(20_000 + i)
            start = time.perf_counter()
            getattr(client, method.lower())(path, body, format="json")
            times[name].append((time.perf_counter() - start) * 1000)
    return counts, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    os.environ.update({k: v for k, v in server_env(url).items() if k != "DJANGO_SETTINGS_MODULE"})
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    import django

    django.setup()
    t0 = time.perf_counter()
    data = seed(args.tickets)
    print(f"seeded {args.tickets:,} tickets in {time.perf_counter() - t0:.0f} s", flush=True)
    token, team, refs = data["token"], data["team"], data["references"]

    def create_body(i: int) -> dict:
        return {"subject": f"API bench {i}", "team": team, "impact": 2, "urgency": 2}

    cases = {
        "floor (one row by pk)": lambda i: ("GET", f"/bench/floor/{data['pk']}/", None),
        "list, page of 50": lambda i: ("GET", "/api/v1/tickets/?page_size=50", None),
        "list, filtered (open, priority 2)": lambda i: (
            "GET",
            "/api/v1/tickets/?page_size=50&status=open&priority=2",
            None,
        ),
        "detail": lambda i: ("GET", f"/api/v1/tickets/{refs[i % len(refs)]}/", None),
        "create": lambda i: ("POST", "/api/v1/tickets/", create_body(i)),
        ALERT_ONE: lambda i: ("POST", "/api/v1/alerts/", generic_alert(alert_key("one-", i))),
        ALERT_BATCH: lambda i: (
            "POST",
            "/api/v1/alerts/",
            alertmanager([alert_key("am-", 10 * i + j) for j in range(10)]),
        ),
    }
    tokens = {"": token, ALERT_ONE: data["alert_token"], ALERT_BATCH: data["alert_token"]}
    api_cases = {name: make for name, make in cases.items() if not name.startswith("floor")}
    sql, local = in_process(tokens, api_cases, min(args.requests, 100))

    (ROOT / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)  # WhiteNoise's root
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "helpdesk.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env(url),
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        results, cpu = {}, {}
        load_before = os.getloadavg()
        for name, make in cases.items():
            results[name], cpu[name] = timed(
                port, tokens.get(name, token), args.requests, make, server.pid
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        from django.core.cache import cache

        cache.delete_many(data["throttle_keys"])

    load = os.getloadavg()
    floor = results["floor (one row by pk)"]
    floor_median, floor_p95 = statistics.median(floor), p95(floor)
    floor_cpu = cpu["floor (one row by pk)"] or 1e-9
    print(f"\nREST API at {args.tickets:,} tickets (gunicorn, 2 workers, PostgreSQL, one client)")
    print(f"load average before: {load_before[0]:.2f}, after: {load[0]:.2f} (1 min)")
    print(
        f"{'request':36} {'median ms':>10} {'p95 ms':>8} {'×floor (median)':>16} "
        f"{'×floor (p95)':>13} {'SQL':>5} {'CPU ms':>7} {'×floor (CPU)':>13}"
    )
    for name, times in results.items():
        queries = sql.get(name, "")
        print(
            f"{name:36} {statistics.median(times):10.1f} {p95(times):8.1f} "
            f"{statistics.median(times) / floor_median:16.2f} {p95(times) / floor_p95:13.2f} "
            f"{queries!s:>5} {cpu[name]:7.1f} {cpu[name] / floor_cpu:13.2f}"
        )
    print(
        "(CPU ms: the gunicorn workers' CPU time per request, and its ratio to the floor's, "
        "which the load disturbs less than the wall times; SQL: statements per request)"
    )
    print("\nThe same requests in-process (Django's test client, no HTTP; as the peer measures):")
    print(f"{'request':36} {'median ms':>10} {'p95 ms':>8}")
    for name, times in local.items():
        print(f"{name:36} {statistics.median(times):10.1f} {p95(times):8.1f}")
    created = results["create"]
    print(
        f"\ncreate: {1000 / statistics.median(created):.0f} tickets/s from one client "
        f"(median {statistics.median(created):.1f} ms, SLA clock and engine included); "
        f"load average at the end: {os.getloadavg()[0]:.1f}"
    )
    for name, per_request in ((ALERT_ONE, 1), (ALERT_BATCH, 10)):
        times = results[name]
        rate = per_request * len(times) * 1000 / sum(times)
        print(
            f"{name}: {rate:.0f} alerts/s from one client, sequential "
            f"({cpu[name] / per_request:.1f} CPU ms per alert in the workers; "
            f"target {ALERT_TARGET}/s: {'met' if rate >= ALERT_TARGET else 'not met'})"
        )


if __name__ == "__main__":
    main()
