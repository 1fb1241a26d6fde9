"""The short chaos run (`bench/chaos.py --short`): the real stack on its own PostgreSQL cluster
and Redis server, with a worker SIGKILLed mid-batch, Redis and PostgreSQL restarted, a second
beat, dropped connections and a hanging webhook receiver. Every invariant must hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.chaos]


def test_every_invariant_holds_through_the_faults():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), "--short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    assert "every invariant holds" in result.stdout, report
    assert "escalated exactly once" in result.stdout, report
