"""The README's Python example (docs/examples/alert_to_acknowledgement.py) against a live
server: a critical alert opens a Sev 1, it escalates at once, the lead acknowledges it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from escalation.models import Escalation
from integrations import services as integrations
from integrations.models import Integration
from tests.api.conftest import token_for
from tests.escalation.test_services import Chain
from tickets.models import Ticket

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "alert_to_acknowledgement.py"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_readme_example_opens_escalates_and_acknowledges(live_server, settings):
    settings.ALLOWED_HOSTS = ["*"]
    chain = Chain()
    secret = integrations.integration_save(
        integration=Integration(name="Prometheus", team=chain.teams[0])
    )
    lead = chain.leads[2]  # a Sev 1 climbs to incident management (level 3) at once
    spec = importlib.util.spec_from_file_location("alert_example", SCRIPT)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    said: list[str] = []
    acknowledged = example.run(live_server.url, secret, token_for(lead), wait=10, say=said.append)

    ticket = Ticket.objects.get()
    escalation = Escalation.objects.get(ticket=ticket, status=Escalation.Status.ACKNOWLEDGED)
    assert acknowledged["id"] == escalation.pk and acknowledged["status"] == "acknowledged"
    assert escalation.acknowledged_by == lead
    assert said[0] == f"The alert opened {ticket.reference}."
    assert said[1].startswith("Priority 1: escalated to L3 (level 3), to be acknowledged by ")
    assert said[2] == "Acknowledged: acknowledged."
