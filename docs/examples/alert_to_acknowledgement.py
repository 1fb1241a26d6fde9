"""From a monitoring alert to an acknowledged escalation, through the REST API (standard
library only).

A critical alert opens a Sev 1 ticket; the escalation engine sends it up the chain at once;
the lead it went to acknowledges it. Run against `make run`'s demo, with an alert
integration's token (Admin → Alert integrations) and an API token of the lead of the team the
ticket escalates to (their menu → API tokens):

    python docs/examples/alert_to_acknowledgement.py --base http://127.0.0.1:8000 \\
        --alert-token hdi_… --token <the lead's API token>
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any


def call(base: str, method: str, path: str, credentials: str, body: Any = None) -> Any:
    """One request; `credentials` is the Authorization header's value. Problems raise."""
    if not base.startswith(("http://", "https://")):
        raise SystemExit(f"Not an http(s) address: {base}")
    request = urllib.request.Request(base + path, method=method)  # noqa: S310 - checked above
    request.add_header("Authorization", credentials)
    request.add_header("Accept", "application/json")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
        # A retried POST (a timeout, a lost answer) then has one effect.
        request.add_header("Idempotency-Key", str(uuid.uuid4()))
    with urllib.request.urlopen(request, data=data, timeout=30) as response:  # noqa: S310
        return json.load(response)


def run(
    base: str, alert_token: str, token: str, *, wait: float = 60, say: Callable = print
) -> dict[str, Any]:
    """Send the alert, wait for the escalation, acknowledge it; returns the escalation."""
    alert = {
        "dedup_key": "shop/checkout-5xx",
        "action": "trigger",
        "summary": "Checkout answers 5xx for every payment",
        "severity": "critical",
    }
    opened = call(base, "POST", "/api/v1/alerts/", f"Bearer {alert_token}", alert)
    reference = opened["alerts"][0]["ticket"]
    say(f"The alert opened {reference}.")

    deadline = time.monotonic() + wait
    while True:
        ticket = call(base, "GET", f"/api/v1/tickets/{reference}/", f"Token {token}")
        escalation = ticket["escalation"]["open_escalation"]
        if escalation is not None:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{reference} did not escalate within {wait:.0f} s.")
        time.sleep(2)
    say(
        f"Priority {ticket['priority']}: escalated to {escalation['to_team']['name']} "
        f"(level {ticket['escalation']['level']['rank']}), to be acknowledged by "
        f"{escalation['ack_due_at']}."
    )

    acknowledged = call(
        base,
        "POST",
        f"/api/v1/escalations/{escalation['id']}/acknowledge/",
        f"Token {token}",
        {"version": ticket["version"]},
    )
    say(f"Acknowledged: {acknowledged['status']}.")
    return acknowledged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--alert-token", required=True, help="an alert integration's token")
    parser.add_argument("--token", required=True, help="an API token of the lead to acknowledge")
    args = parser.parse_args()
    run(args.base.rstrip("/"), args.alert_token, args.token)


if __name__ == "__main__":
    main()
