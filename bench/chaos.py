"""The chaos run: the real stack on 127.0.0.1, faults injected while it works, invariants checked.

    .venv/bin/python bench/chaos.py            # the full run (about 5 minutes)
    .venv/bin/python bench/chaos.py --short    # the short run that `make test` drives in CI

It starts its own PostgreSQL cluster (initdb into a temporary folder) and Redis server on spare
ports, so the faults never touch the machine's shared services; then gunicorn, a sweep worker
(default queue), a delivery worker (`deliveries` queue), beat (sweep and relay every few
seconds), and a webhook receiver in this process that is sometimes failing and, for a while,
hangs. It seeds tickets that are due now and waves that fall due during each fault, drives API
and browser-like load, and in a bounded run:

1. SIGKILLs the sweep worker in the middle of its first batch, then starts it again;
2. stops Redis (every queued task is lost: it keeps nothing on disk) and starts it again;
3. runs a second beat for a while (every sweep and relay asked for twice);
4. restarts PostgreSQL;
5. terminates every database connection of the application, twice, mid-write;
6. makes the webhook receiver hang past the senders' timeout.

Afterwards it prints each invariant as a line with its figure, and exits 1 if one is broken:
every ticket that became due escalated exactly once; every webhook delivery sent once (one
successful attempt) or marked failed with its error, none left pending or sending; every
request answered or cleanly refused before its deadline, no ticket the API confirmed is
missing and none is doubled (retries reuse their Idempotency-Key); escalations not delayed by
the hanging receiver by more than one sweep interval (measured by PostgreSQL's commit
timestamps); and the time to catch up after each fault.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import glob
import http.server
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SWEEP_INTERVAL = 3.0  # beat's sweep and relay, seconds
WEBHOOK_TIMEOUT = 2.0
REQUEST_DEADLINE = 20.0  # a request not answered by then is a hang


@dataclasses.dataclass(frozen=True)
class Scale:
    due_now: int  # tickets due when the run starts
    wave: int  # tickets due in the middle of each fault
    load_seconds: float  # how long the API and browser-like load runs
    settle_seconds: float  # at most this long to catch up after the load


SHORT = Scale(due_now=150, wave=20, load_seconds=75, settle_seconds=120)
FULL = Scale(due_now=2000, wave=150, load_seconds=75, settle_seconds=300)


def log(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- The services of the run -------------------------------------------------------------------


class Postgres:
    """A throw-away PostgreSQL cluster (run as the `postgres` user when we are root)."""

    def __init__(self, folder: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = found[-1] if found else shutil.which("initdb")
        if not initdb:
            raise SystemExit("initdb not found (Debian: postgresql)")
        self.bin = Path(initdb).parent
        self.port = free_port()
        self.data = folder / "pgdata"
        self.socket_dir = folder / "pgsock"
        self.log = folder / "postgres.log"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        for path in (self.data, self.socket_dir):
            path.mkdir()
        if self.as_user:
            folder.chmod(0o755)
            for path in (self.data, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c track_commit_timestamp=on"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, action, *extra
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate")

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "chaos")


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.wanted = False  # the supervisor restarts a wanted process that exited
        self.restarts = 0

    def start(self) -> None:
        self.wanted = True
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        self.wanted = False
        self.signal(signal.SIGKILL)
        if self.process:
            self.process.wait(timeout=20)

    def stop(self) -> None:
        self.wanted = False
        self.signal(signal.SIGTERM)
        if self.process:
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Receiver(http.server.ThreadingHTTPServer):
    """The webhook receiver: records each event id it is sent; fails some requests; can hang."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.hang_until = 0.0
        self.fail_share = 0.1
        self.lock = threading.Lock()
        self.random = secrets.SystemRandom()
        super().__init__(("127.0.0.1", 0), ReceiverHandler)


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        event_id = self.headers.get("webhook-id", "")
        if time.monotonic() < self.server.hang_until:
            time.sleep(WEBHOOK_TIMEOUT * 4)  # the sender gives up long before
        with self.server.lock:
            self.server.received[event_id] += 1
            failing = self.server.random.random() < self.server.fail_share
        self.send_response(503 if failing else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


# --- The run -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Fault:
    name: str
    started: float = 0.0
    ended: float = 0.0
    wave_due: dt.datetime | None = None
    wave: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class LoadFigures:
    outcomes: Counter[str] = dataclasses.field(default_factory=Counter)
    hangs: int = 0
    created: dict[str, str] = dataclasses.field(default_factory=dict)  # key → reference
    slowest: float = 0.0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


class Chaos:
    def __init__(self, scale: Scale, folder: Path) -> None:
        self.scale, self.folder = scale, folder
        self.pg = Postgres(folder)
        self.redis_port = free_port()
        self.web_port = free_port()
        self.receiver = Receiver()
        self.stop_load = threading.Event()
        self.load = LoadFigures()
        self.samples: list[tuple[float, int, float]] = []  # (monotonic, due, lag seconds)
        self.t0 = time.monotonic()
        self.faults: list[Fault] = []
        self.receiver_thread: threading.Thread | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DEMO": "false",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "ESCALATION_SWEEP_INTERVAL_SECONDS": str(SWEEP_INTERVAL),
            "NOTIFICATIONS_RELAY_INTERVAL_SECONDS": str(SWEEP_INTERVAL),
            "NOTIFICATIONS_SENDING_TIMEOUT_SECONDS": "20",
            "NOTIFICATIONS_RELAY_LEASE_SECONDS": "8",
            "NOTIFICATIONS_RETRY_BASE_SECONDS": "1",
            "NOTIFICATIONS_RETRY_MAX_SECONDS": "4",
            "NOTIFICATIONS_MAX_ATTEMPTS": "30",
            "WEBHOOKS_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT),
            "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
            "API_THROTTLE_RATE": "100000/hour",
            "LOG_FORMAT": "plain",
            "LOG_LEVEL": "WARNING",
            "MEDIA_ROOT": str(folder / "media"),
            "STATIC_ROOT": str(folder / "static"),
            "EMAIL_URL": "dummymail://",
            "PYTHONUNBUFFERED": "1",
        }
        venv = Path(sys.executable).parent
        celery = [str(venv / "celery"), "-A", "helpdesk"]
        self.redis = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            self.env,
            folder,
        )
        self.web = Process(
            "web",
            [
                str(venv / "gunicorn"),
                "helpdesk.wsgi:application",
                f"--bind=127.0.0.1:{self.web_port}",
                "--workers=2",
                "--timeout=30",
                "--graceful-timeout=5",
            ],
            self.env,
            folder,
        )
        self.sweeper = Process(
            "sweeper",
            [
                *celery,
                "worker",
                "-Q",
                "celery",
                "-n",
                "sweep@%h",
                "-c",
                "2",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            self.env,
            folder,
        )
        self.sender = Process(
            "sender",
            [
                *celery,
                "worker",
                "-Q",
                "deliveries",
                "-n",
                "deliveries@%h",
                "-c",
                "4",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            self.env,
            folder,
        )
        self.beat = Process(
            "beat",
            [*celery, "beat", "-s", str(folder / "beat1"), "--loglevel", "WARNING"],
            self.env,
            folder,
        )
        self.beat2 = Process(
            "beat2",
            [*celery, "beat", "-s", str(folder / "beat2"), "--loglevel", "WARNING"],
            self.env,
            folder,
        )

    def clock(self) -> float:
        return time.monotonic() - self.t0

    # --- set up ---------------------------------------------------------------------------

    def boot(self) -> None:
        log(f"PostgreSQL on {self.pg.port}, Redis on {self.redis_port}, web on {self.web_port}")
        self.pg.start()
        self.pg.create_database()
        self.redis.start()
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--no-input", verbosity=0)
        self.seed()
        self.receiver_thread = threading.Thread(target=self.receiver.serve_forever, daemon=True)
        self.receiver_thread.start()
        for process in (self.web, self.sweeper, self.sender):
            process.start()
        self.wait_for_web()

    def seed(self) -> None:
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from escalation.models import EscalationRule
        from integrations.services import token_create
        from notifications.models import EventType, WebhookEndpoint
        from tickets.models import SupportLevel, Team, Ticket
        from tickets.services import allocate_references

        User = get_user_model()
        EscalationRule.objects.update(is_active=False)
        EscalationRule.objects.create(
            name="No progress for an hour",
            order=1,
            trigger="no_progress",
            threshold=dt.timedelta(hours=1),
            escalate="hierarchical",
            notify_target_team=True,
        )
        level1, level2 = (SupportLevel.objects.get(rank=rank) for rank in (1, 2))
        second = Team.objects.create(name="Chaos L2", level=level2)
        first = Team.objects.create(name="Chaos L1", level=level1, escalates_to=second)
        expert = User.objects.create_user("expert", "expert@example.com", "x")
        second.members.add(expert)
        self.password = secrets.token_urlsafe(16)
        admin = User.objects.create_superuser("chaos", "chaos@example.com", self.password)
        first.members.add(admin)
        self.token = token_create(user=admin, name="chaos run", days=1)[1]
        self.team_id = first.pk
        WebhookEndpoint.objects.create(
            url=f"http://127.0.0.1:{self.receiver.server_address[1]}/hook",
            event_types=[EventType.ESCALATION_RAISED],
        )
        now = timezone.now()
        long_ago = now - dt.timedelta(days=2)
        # The waves: each falls due in the middle of its fault (set once the schedule is known).
        self.faults = [
            Fault("sweep worker SIGKILLed mid-batch"),
            Fault("Redis stopped and started"),
            Fault("second beat running"),
            Fault("PostgreSQL restarted"),
            Fault("database connections terminated mid-write"),
            Fault("webhook receiver hangs"),
        ]
        self.schedule = [  # (fault, start, end) in seconds after the load starts
            (self.faults[0], 2.0, 5.0),
            (self.faults[1], 12.0, 22.0),
            (self.faults[2], 28.0, 40.0),
            (self.faults[3], 45.0, 47.0),
            (self.faults[4], 52.0, 55.0),
            (self.faults[5], 60.0, 72.0),
        ]
        # Tickets due now, and a wave per fault whose due instant `realign_waves` puts in the
        # middle of that fault once the load starts.
        total = self.scale.due_now + self.scale.wave * len(self.schedule)
        references = iter(allocate_references(now.year, total))
        subjects = [f"Due at start {n}" for n in range(self.scale.due_now)] + [
            f"Due during: {fault.name}"
            for fault, _start, _end in self.schedule
            for _ in range(self.scale.wave)
        ]
        Ticket.objects.bulk_create(
            [
                Ticket(
                    reference=next(references),
                    subject=subject,
                    team=first,
                    level=level1,
                    created_at=long_ago,
                    cycle_started_at=long_ago,
                    # Due now (not two days ago): the lag is counted from the run's start.
                    next_check_at=now
                    if subject.startswith("Due at")
                    else now + dt.timedelta(days=1),
                )
                for subject in subjects
            ],
            batch_size=1000,
        )
        for fault in self.faults:
            fault.wave = list(
                Ticket.objects.filter(subject=f"Due during: {fault.name}").values_list(
                    "pk", flat=True
                )
            )
        self.seeded = list(
            Ticket.objects.filter(team=first, subject__startswith="Due ").values_list(
                "pk", flat=True
            )
        )
        self.first_reference = Ticket.objects.order_by("pk").values_list("reference", flat=True)[0]

    def wait_for_web(self) -> None:
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url("/healthz"), timeout=2).status_code in (200, 503):
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer:\n{self.web.text()[-2000:]}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    # --- load -----------------------------------------------------------------------------

    def api_writer(self) -> None:
        """Creates tickets through the API; after a connection error, a timeout or a 5xx it
        retries with the same Idempotency-Key (the API must not create a second ticket)."""
        import requests

        session = requests.Session()
        headers = {"Authorization": f"Token {self.token}"}
        n = 0
        while not self.stop_load.is_set():
            n += 1
            key = str(uuid.uuid4())
            body = {
                "subject": f"Load {n} {key[:8]}",
                "team": self.team_id,
                "impact": 3,
                "urgency": 3,
            }
            for _attempt in range(6):
                outcome = self.request(
                    session,
                    "POST",
                    "/api/v1/tickets/",
                    json=body,
                    headers={**headers, "Idempotency-Key": key},
                )
                if isinstance(outcome, requests.Response) and outcome.status_code < 500:
                    if outcome.status_code == 201:
                        with self.load.lock:
                            self.load.created[key] = outcome.json()["reference"]
                    break
                time.sleep(0.5)
            time.sleep(0.1)

    def browser(self) -> None:
        """Signs in like a browser and reads the ticket list and a ticket page, again and again."""
        import requests

        session = requests.Session()
        cookies: dict[str, str] = {}
        while not self.stop_load.is_set():
            if "sessionid" not in cookies:
                cookies = self.sign_in(session)
                if "sessionid" not in cookies:
                    time.sleep(0.5)
                    continue
            cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
            outcome = self.request(session, "GET", "/tickets/", headers={"Cookie": cookie})
            self.request(
                session, "GET", f"/tickets/{self.first_reference}/", headers={"Cookie": cookie}
            )
            self.request(
                session,
                "GET",
                "/api/v1/tickets/?limit=50",
                headers={"Authorization": f"Token {self.token}"},
            )
            if isinstance(outcome, requests.Response) and outcome.status_code == 302:
                cookies = {}
            time.sleep(0.2)

    def sign_in(self, session: Any) -> dict[str, str]:
        import re

        import requests

        page = self.request(session, "GET", "/login/")
        if not isinstance(page, requests.Response) or page.status_code != 200:
            return {}
        csrf = page.cookies.get("csrftoken", "")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if not csrf or not token:
            return {}
        answer = self.request(
            session,
            "POST",
            "/login/",
            data={
                "username": "chaos",
                "password": self.password,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Cookie": f"csrftoken={csrf}", "Referer": self.url("/login/")},
            allow_redirects=False,
        )
        if isinstance(answer, requests.Response) and "sessionid" in answer.cookies:
            return {"csrftoken": csrf, "sessionid": answer.cookies["sessionid"]}
        return {}

    def request(self, session: Any, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        started = time.monotonic()
        try:
            response = session.request(method, self.url(path), timeout=REQUEST_DEADLINE, **kwargs)
        except requests.Timeout:
            with self.load.lock:
                self.load.hangs += 1
                self.load.outcomes["hang"] += 1
            return None
        except requests.RequestException as exc:
            with self.load.lock:
                self.load.outcomes[f"refused ({type(exc).__name__})"] += 1
            return exc
        finally:
            with self.load.lock:
                self.load.slowest = max(self.load.slowest, time.monotonic() - started)
        with self.load.lock:
            code = response.status_code
            self.load.outcomes[str(code) if code >= 500 else f"{code // 100}xx"] += 1
        return response

    # --- watching -------------------------------------------------------------------------

    def supervise(self) -> None:
        """Restarts an application process that exited on its own, as docker-compose's
        `restart: unless-stopped` does (a Celery worker can die when Redis goes away: kombu's
        reconnect fails in "restore unacknowledged messages"). Counted and printed."""
        while not self.stop_watch.is_set():
            for process in (self.web, self.sweeper, self.sender, self.beat):
                if process.wanted and process.exited():
                    process.restarts += 1
                    log(f"  {process.name} exited (code {process.process.returncode}); restarting")
                    process.start()
            time.sleep(0.5)

    def watch(self) -> None:
        """Samples the due backlog and the sweep lag twice a second (through our own
        connection, which the faults also break: then the sample is skipped)."""
        from django.db import close_old_connections, connection
        from django.db.models import Count, Min
        from django.utils import timezone

        from tickets.models import Ticket

        while not self.stop_watch.is_set():
            try:
                now = timezone.now()
                row = (
                    Ticket.objects.active()
                    .filter(next_check_at__lte=now)
                    .aggregate(n=Count("pk"), oldest=Min("next_check_at"))
                )
                lag = (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0
                self.samples.append((self.clock(), row["n"], lag))
            except Exception:
                connection.close()
                close_old_connections()
            time.sleep(0.5)

    # --- faults ---------------------------------------------------------------------------

    def inject(self, fault: Fault, start: float, end: float) -> None:
        self.sleep_until(start)
        fault.started = self.clock()
        log(f"fault: {fault.name}")
        if fault is self.faults[0]:
            self.wait_for_text(self.sweeper, "sweep_escalations", 15)
            time.sleep(0.3)
            self.sweeper.kill()
            log(f"  killed with {self.escalated()} of {len(self.seeded)} escalated")
            self.sleep_until(end)
            self.sweeper.start()
        elif fault is self.faults[1]:
            self.redis.kill()
            self.sleep_until(end)
            self.redis.start()
        elif fault is self.faults[2]:
            self.beat2.start()
            self.sleep_until(end)
            self.beat2.stop()
        elif fault is self.faults[3]:
            self.pg.restart()
            self.sleep_until(end)
        elif fault is self.faults[4]:
            for _ in range(2):
                self.terminate_connections()
                time.sleep((end - start) / 2)
        elif fault is self.faults[5]:
            self.receiver.hang_until = time.monotonic() + (end - start)
            self.sleep_until(end)
        fault.ended = self.clock()

    def escalated(self) -> int:
        from escalation.models import Escalation

        return Escalation.objects.filter(ticket_id__in=self.seeded).count()

    def terminate_connections(self) -> None:
        from django.db import connection

        connection.close()  # ours may have gone with the restart before
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            log(f"  terminated {cursor.fetchone()[0]} connections")

    def sleep_until(self, at: float) -> None:
        time.sleep(max(0.0, self.load_t0 + at - self.clock()))

    def wait_for_text(self, process: Process, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and text not in process.text():
            time.sleep(0.05)

    # --- the run --------------------------------------------------------------------------

    def run(self) -> int:
        self.boot()
        self.stop_watch = threading.Event()
        threading.Thread(target=self.watch, daemon=True).start()
        threading.Thread(target=self.supervise, daemon=True).start()
        self.load_t0 = self.clock()
        self.realign_waves()
        self.beat.start()
        workers = [threading.Thread(target=self.api_writer), threading.Thread(target=self.browser)]
        for thread in workers:
            thread.start()
        for fault, start, end in self.schedule:
            self.inject(fault, start, end)
        self.sleep_until(self.scale.load_seconds)
        self.stop_load.set()
        for thread in workers:
            thread.join(timeout=REQUEST_DEADLINE + 5)
        log("load stopped; waiting for the stack to catch up")
        settled = self.settle()
        self.stop_watch.set()
        return self.report(settled)

    def realign_waves(self) -> None:
        """The waves were seeded before boot; put each one's due instant in the middle of its
        fault, counted from now (one UPDATE per wave)."""
        from django.utils import timezone

        from tickets.models import Ticket

        now = timezone.now()
        for fault, start, end in self.schedule:
            due = now + dt.timedelta(seconds=(start + end) / 2)
            fault.wave_due = due
            created = due - dt.timedelta(hours=1)
            Ticket.objects.filter(pk__in=fault.wave).update(
                created_at=created, cycle_started_at=created, next_check_at=due
            )

    def settle(self) -> bool:
        from django.db import close_old_connections
        from django.utils import timezone

        from notifications.models import Delivery

        deadline = time.monotonic() + self.scale.settle_seconds
        while time.monotonic() < deadline:
            try:
                close_old_connections()
                escalated = self.escalated()
                open_deliveries = Delivery.objects.filter(
                    status__in=["pending", "sending"], next_attempt_at__lte=timezone.now()
                ).count()
                if escalated >= len(self.seeded) and open_deliveries == 0:
                    time.sleep(SWEEP_INTERVAL * 2)  # one more round: nothing may move again
                    return True
            except Exception as exc:  # the database may be restarting: ask again
                log(f"  waiting ({type(exc).__name__})")
            time.sleep(1)
        return False

    # --- invariants -----------------------------------------------------------------------

    def report(self, settled: bool) -> int:
        from django.db import close_old_connections, connection
        from django.db.models import Count, Q

        from escalation.models import Escalation
        from notifications.models import Delivery
        from tickets.models import Ticket

        close_old_connections()
        broken: list[str] = []

        def line(ok: bool, text: str) -> None:
            print(f"{'ok    ' if ok else 'BROKEN'} {text}", flush=True)
            if not ok:
                broken.append(text)

        print()
        print(f"settled within {self.scale.settle_seconds:.0f} s after the load: {settled}")
        per_ticket = Counter(
            dict(
                Escalation.objects.filter(ticket_id__in=self.seeded)
                .values("ticket")
                .annotate(n=Count("pk"))
                .values_list("ticket", "n")
            )
        )
        missing = [pk for pk in self.seeded if per_ticket[pk] == 0]
        doubled = [pk for pk, n in per_ticket.items() if n > 1]
        line(
            not missing and not doubled,
            f"escalated exactly once: {len(self.seeded) - len(missing) - len(doubled)}"
            f"/{len(self.seeded)} due tickets (missing {len(missing)}, more than once "
            f"{len(doubled)})",
        )

        webhooks = Delivery.objects.filter(channel="webhook")
        states = Counter(webhooks.values_list("status", flat=True))
        twice = webhooks.annotate(ok=Count("attempt_log", filter=Q(attempt_log__ok=True))).filter(
            ok__gt=1
        )
        failed_silently = webhooks.filter(status="failed", last_error="").count()
        sent_ids = set(webhooks.filter(status="sent").values_list("event_id", flat=True))
        never_arrived = sent_ids - set(self.receiver.received)
        line(
            states.get("pending", 0) + states.get("sending", 0) == 0
            and not twice.exists()
            and failed_silently == 0
            and not never_arrived,
            f"deliveries: {dict(sorted(states.items()))}; sent twice {twice.count()}, failed "
            f"without an error {failed_silently}, sent but never received {len(never_arrived)}",
        )
        line(
            len(sent_ids) + states.get("failed", 0) == len(self.seeded),
            f"one escalation webhook per escalation: {webhooks.count()} deliveries for "
            f"{len(self.seeded)} escalations",
        )
        duplicates = sum(n - 1 for n in self.receiver.received.values() if n > 1)
        print(
            f"       the receiver saw {sum(self.receiver.received.values())} requests for "
            f"{len(self.receiver.received)} events ({duplicates} repeats of an event id after "
            "a timeout or a 503: receivers deduplicate by webhook-id)"
        )

        references = set(self.load.created.values())
        found = Counter(
            Ticket.objects.filter(reference__in=references).values_list("subject", flat=True)
        )
        load_tickets = Ticket.objects.filter(subject__startswith="Load ").count()
        unclean = sum(
            n for key, n in self.load.outcomes.items() if key.startswith("5") and key != "503"
        )
        line(
            self.load.hangs == 0 and unclean == 0,
            "requests answered (or refused with a 503 or a closed connection) before the "
            f"{REQUEST_DEADLINE:.0f} s deadline: "
            f"{dict(sorted(self.load.outcomes.items()))}, slowest {self.load.slowest:.1f} s",
        )
        line(
            len(found) == len(references) and load_tickets == len(references),
            f"tickets the API confirmed: {len(references)}, in the database "
            f"{sum(found.values())}, tickets of the load in all {load_tickets} (none missing, "
            "none doubled by a retried request)",
        )

        hanging = self.faults[5]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(extract(epoch FROM pg_xact_commit_timestamp(xmin) - %s)) "
                "FROM escalation_escalation WHERE ticket_id = ANY(%s)",
                [hanging.wave_due, hanging.wave],
            )
            delay = cursor.fetchone()[0]
        limit = SWEEP_INTERVAL * 2
        line(
            delay is not None and float(delay) <= limit,
            f"escalations due while the receiver hung were committed at most "
            f"{float(delay or 0):.1f} s after falling due (limit: one sweep interval of "
            f"{SWEEP_INTERVAL:.0f} s plus one for the batch, {limit:.0f} s)",
        )

        print("catch-up after each fault (until the sweep lag is under two intervals again):")
        for fault in self.faults:
            after = [(t, lag) for t, _due, lag in self.samples if t >= fault.ended]
            caught = next((t for t, lag in after if lag <= SWEEP_INTERVAL * 2), None)
            until = caught if caught is not None else float("inf")
            worst = max(
                (lag for t, _due, lag in self.samples if fault.started <= t <= until), default=0
            )
            figure = f"{caught - fault.ended:.1f} s" if caught is not None else "not within the run"
            line(
                caught is not None, f"  {fault.name}: caught up {figure} (worst lag {worst:.1f} s)"
            )
        restarts = {p.name: p.restarts for p in (self.web, self.sweeper, self.sender, self.beat)}
        print(
            f"processes that exited on their own and were restarted (docker-compose's restart "
            f"policy): {restarts}"
        )
        print()
        print(f"{len(broken)} invariant(s) broken" if broken else "every invariant holds")
        return 1 if broken else 0

    def shutdown(self) -> None:
        self.stop_load.set()
        for process in (self.beat2, self.beat, self.sender, self.sweeper, self.web, self.redis):
            process.stop()
        if self.receiver_thread is not None:  # shutdown() waits for a loop that must be running
            self.receiver.shutdown()
        from django.db import connections

        with contextlib.suppress(Exception):  # closing what a restart already broke
            connections.close_all()
        self.pg.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the short run (CI)")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-chaos-"))
    chaos = Chaos(SHORT if args.short else FULL, folder)
    print(f"load average {os.getloadavg()[0]:.1f}; logs in {folder}", flush=True)
    try:
        return chaos.run()
    finally:
        chaos.shutdown()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
