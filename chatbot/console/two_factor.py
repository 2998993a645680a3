"""Two-factor sign-in for console and admin accounts: a TOTP authenticator app (django-otp), with
backup codes for a lost phone.

An account has a second factor once it has a confirmed TOTP device; from then on the console's and
the admin's sign-in ask for a code after the password. With CHATBOT_REQUIRE_2FA_FOR_ADMINS, admins
(console admins and superusers) must set one up: until they have, every console and admin page sends
them to the set-up page. Wrong codes count as failed sign-ins for the throttling (django-axes), and
each device slows down its own guessing too (django-otp's throttling).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from chatbot.console.models import Operator, Role

BACKUP_CODES = 10
_TOTP_NAME = "Authenticator app"
_BACKUP_NAME = "Backup codes"


def two_factor_enabled(user: Any) -> bool:
    """The account signs in with a second factor (a confirmed authenticator app)."""
    return bool(user.is_authenticated) and TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required(user: Any) -> bool:
    """The settings require a second factor of this account: it is an admin (of the console, or a
    superuser) and CHATBOT_REQUIRE_2FA_FOR_ADMINS is on."""
    if not settings.CHATBOT_REQUIRE_2FA_FOR_ADMINS or not user.is_authenticated:
        return False
    return bool(user.is_superuser) or Operator.objects.filter(user=user, role=Role.ADMIN).exists()


def two_factor_verified(user: Any, session: Mapping[str, Any]) -> bool:
    """The session was signed in with one of the user's devices (django-otp keeps its id there)."""
    device_id = session.get(DEVICE_ID_SESSION_KEY)
    if not device_id or not user.is_authenticated:
        return False
    device = Device.from_persistent_id(device_id)
    return device is not None and device.user_id == user.pk and device.confirmed


def two_factor_satisfied(user: Any, session: Mapping[str, Any]) -> bool:
    """The signed-in session may see the console and the admin: its account has no second factor
    and needs none, or the session was verified with one. For pages (request.user and
    request.session) and the console's websocket (the scope's user and session) alike."""
    if two_factor_verified(user, session):
        return True
    return not two_factor_enabled(user) and not two_factor_required(user)


def two_factor_device_for_code(user: Any, code: str) -> Device | None:
    """The user's device that accepts `code` (a code of the authenticator app, or an unused backup
    code, which is used up), else None. Each device counts its own failures and slows down."""
    code = "".join(code.split()).lower()
    if not code:
        return None
    with transaction.atomic():
        if code.isdigit():
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return device
        for backup in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if backup.verify_token(code):
                return backup
    return None


def two_factor_setup_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator device the set-up page shows (one per account, kept until it is
    confirmed so a reload shows the same QR code)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def two_factor_confirm(*, request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Turns two-factor sign-in on with `device` if `code` is its current code: the device replaces
    any earlier one, the session counts as verified, and new backup codes are returned (shown once).
    None if the code is wrong."""
    if not device.verify_token("".join(code.split())):
        return None
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    return two_factor_backup_codes_renew(user=device.user)


@transaction.atomic
def two_factor_backup_codes_renew(*, user: Any) -> list[str]:
    """New backup codes for `user`, replacing the old ones. Each signs in once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=_BACKUP_NAME, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_backup_codes_left(user: Any) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


@transaction.atomic
def two_factor_disable(*, user: Any) -> None:
    """Removes the account's authenticator and backup codes."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_factor_qr_data_uri(device: TOTPDevice) -> str:
    """The device's `otpauth://` URL as a QR code, an SVG data URI for an `<img>` (the CSP allows
    `data:` images; nothing is fetched from elsewhere)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def two_factor_secret(device: TOTPDevice) -> str:
    """The device's key in base32, grouped by four, for typing into an app by hand."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
