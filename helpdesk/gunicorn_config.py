"""gunicorn settings for the production stack (`gunicorn -c python:helpdesk.gunicorn_config`).

With `PROMETHEUS_MULTIPROC_DIR` set, each gunicorn worker writes its request latency to files
in that folder and `/metrics` adds them up (prometheus_client's multiprocess mode): the folder
is emptied when gunicorn starts, and a worker that exits is marked dead so its live gauges go."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
