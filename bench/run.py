"""Run every benchmark and print their figures (`make bench`; `make bench-full` for 1M rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    full = ["--full"] if "--full" in sys.argv else []
    failures = 0
    # One line per benchmark (--full only where it means something).
    scripts = [
        ("sla_clock.py", []),
        ("sweep.py", full),
        ("recompute.py", []),
        ("backtest.py", full),
        ("api.py", []),
        ("knowledge.py", []),
        ("mail.py", []),
        ("pages.py", []),
        ("alerts.py", []),
        ("ticket_page.py", []),
        ("portal.py", []),
        ("incidents.py", []),
        ("reports.py", full),
        # Faults on the real stack, invariants checked (about 4 minutes; 6 with --full).
        ("chaos.py", [] if full else ["--short"]),
    ]
    for script, args in scripts:
        print(f"\n=== bench/{script} {' '.join(args)}".rstrip(), flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *args], check=False)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
