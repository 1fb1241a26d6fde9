"""Fixtures for sign-in security: a user with TOTP on, and codes from its authenticator."""

from __future__ import annotations

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import recovery_codes_renew


def code_for(device: TOTPDevice) -> str:
    """The code the user's authenticator app shows right now."""
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(value).zfill(device.digits)


@pytest.fixture
def totp_user(agent):
    """The agent with two-factor sign-in on (authenticator confirmed, recovery codes made)."""
    TOTPDevice.objects.create(user=agent, name="authenticator", confirmed=True)
    agent.recovery_codes = recovery_codes_renew(user=agent)
    return agent


@pytest.fixture
def device(totp_user):
    return TOTPDevice.objects.get(user=totp_user)
