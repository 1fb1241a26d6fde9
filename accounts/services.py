"""Two-factor sign-in (TOTP) with django-otp: turn it on, confirm, recovery codes, turn off.

A user has at most one TOTP device ("authenticator") and one static device holding single-use
recovery codes. Only confirmed devices count: a device is confirmed once the user has typed a
code from the authenticator app, so a half-finished setup never locks anyone out.
"""

from __future__ import annotations

from base64 import b32encode

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"


def two_factor_enabled(user: AbstractBaseUser) -> bool:
    """Whether sign-in asks this user for a code (a confirmed authenticator exists)."""
    return user_has_device(user, confirmed=True)


@transaction.atomic
def totp_setup_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed authenticator to show as QR code; the same one until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_device(*, user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's confirmed authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_secret(device: TOTPDevice) -> str:
    """The secret as the apps expect it typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def totp_setup_confirm(*, user: AbstractBaseUser, token: str) -> list[str] | None:
    """Confirm the pending authenticator with a code from the app.

    Returns the new recovery codes (shown once), or None when the code is wrong or no setup
    is pending. Any older authenticator and recovery codes are replaced.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_renew(user=user)


@transaction.atomic
def recovery_codes_renew(*, user: AbstractBaseUser) -> list[str]:
    """Replace the user's recovery codes with new ones and return them (shown once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(*, user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def two_factor_verify(*, user: AbstractBaseUser, token: str) -> Device | None:
    """The confirmed device (authenticator or recovery codes) that accepts the code, or None.

    Each device throttles wrong codes itself (django-otp's exponential delay); a recovery
    code is used up by a successful check.
    """
    token = "".join(token.split()).lower()
    if not token:
        return None
    for device in devices_for_user(user, confirmed=True, for_verify=True):
        if device.verify_token(token):
            return device
    return None


@transaction.atomic
def two_factor_disable(*, user: AbstractBaseUser) -> None:
    """Remove the authenticator and the recovery codes: sign-in asks for the password only."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
