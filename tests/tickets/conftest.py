"""Fixtures shared by the tests of the tickets app."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def agent_client(client, agent, team_a) -> Client:
    """The test client, logged in as an agent of team A."""
    client.force_login(agent)
    return client
