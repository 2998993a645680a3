"""Signing in to the console and the admin, through the real login pages: failed attempts are
throttled per username and per address (django-axes) with a clear page, an admin unlocks an account
in the admin, and accounts with two-factor sign-in give a code of their authenticator app (computed
here from the key the set-up page shows, RFC 6238) or a backup code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from chatbot.console.access import console_operator
from chatbot.console.models import Role
from chatbot.sites.models import Site
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db

CONSOLE_LOGIN = "/console/login/"
ADMIN_LOGIN = "/admin/login/"


def sign_in(client: Client, path: str, username: str, password: str, *, ip: str = "203.0.113.7", **extra: str) -> Any:
    return client.post(path, {"username": username, "password": password, **extra}, REMOTE_ADDR=ip)


def signed_in(client: Client) -> bool:
    return client.get("/console/").status_code == 200


@pytest.fixture
def alex(shop_site: Site) -> Any:
    return make_operator("alex", sites=[shop_site]).user


@pytest.fixture
def boss(shop_site: Site) -> Any:
    user = make_operator("boss", sites=[], role=Role.ADMIN).user
    user.is_staff = user.is_superuser = True
    user.save()
    return user


# --- Throttling and lockout ---


@pytest.mark.parametrize("login", [CONSOLE_LOGIN, ADMIN_LOGIN])
def test_after_five_wrong_passwords_for_a_user_even_the_right_one_is_refused_from_any_address(
    login: str, boss: Any
) -> None:
    statuses = [
        sign_in(Client(), login, "boss", f"wrong-{attempt}", ip=f"198.51.100.{attempt}").status_code
        for attempt in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]  # the form again ("didn't match"), then the lock
    client = Client()
    locked = sign_in(client, login, "boss", "pw-boss", ip="192.0.2.200")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content and b"locked for 15 minutes" in locked.content
    assert locked["Retry-After"] == "900"
    assert not signed_in(client)


@pytest.mark.parametrize("login", [CONSOLE_LOGIN, ADMIN_LOGIN])
def test_after_five_failures_from_one_address_every_account_is_refused_there_but_not_elsewhere(
    login: str, alex: Any, boss: Any
) -> None:
    for attempt in range(5):
        sign_in(Client(), login, f"guess-{attempt}", "pw", ip="203.0.113.9")
    assert sign_in(Client(), login, "boss", "pw-boss", ip="203.0.113.9").status_code == 429
    elsewhere = Client()
    response = sign_in(elsewhere, login, "boss", "pw-boss", ip="203.0.113.10")
    assert response.status_code == 302
    assert signed_in(elsewhere)


def test_a_few_mistakes_do_not_lock_anyone_out(alex: Any) -> None:
    for attempt in range(4):
        sign_in(Client(), CONSOLE_LOGIN, "alex", f"typo-{attempt}")
    client = Client()
    assert sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex").status_code == 302
    assert signed_in(client)


def test_the_lock_lifts_after_the_cool_off(alex: Any) -> None:
    for attempt in range(5):
        sign_in(Client(), CONSOLE_LOGIN, "alex", f"wrong-{attempt}")
    assert sign_in(Client(), CONSOLE_LOGIN, "alex", "pw-alex").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(Client(), CONSOLE_LOGIN, "alex", "pw-alex").status_code == 302


def test_an_admin_unlocks_an_account_in_the_admin(alex: Any, boss: Any) -> None:
    for attempt in range(5):
        sign_in(Client(), CONSOLE_LOGIN, "alex", f"wrong-{attempt}")
    assert sign_in(Client(), CONSOLE_LOGIN, "alex", "pw-alex").status_code == 429

    admin = Client()
    assert sign_in(admin, ADMIN_LOGIN, "boss", "pw-boss", ip="192.0.2.1").status_code == 302
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and b"alex" in listing.content
    attempts = list(AccessAttempt.objects.filter(username="alex").values_list("pk", flat=True))
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="alex").exists()

    client = Client()
    assert sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex").status_code == 302
    assert signed_in(client)


# --- Two-factor sign-in ---


def totp(secret: str, *, at: float | None = None) -> str:
    """The RFC 6238 code (SHA-1, 30 s, 6 digits) of a base32 key, as an authenticator app computes it."""
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def turn_on_two_factor(client: Client) -> tuple[str, list[str]]:
    """Sets up two-factor sign-in on the signed-in account through its page: (key, backup codes)."""
    page = client.get("/console/two-factor/").content.decode()
    assert re.search(r'<img class="qr" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', page)
    secret = re.search(r'data-testid="two-factor-secret">([A-Z2-7 ]+)<', page)
    assert secret is not None
    done = client.post("/console/two-factor/", {"action": "confirm", "code": totp(secret.group(1))})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    return secret.group(1), codes


def test_an_operator_turns_on_two_factor_with_the_qr_code_and_then_signs_in_with_a_code(alex: Any) -> None:
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    secret, _codes = turn_on_two_factor(client)
    client.post("/console/logout/")

    client = Client()
    step_one = sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    assert step_one.status_code == 302 and step_one["Location"] == "/console/login/code/"
    assert not signed_in(client)  # the password alone signs nobody in
    assert b"authenticator app" in client.get("/console/login/code/").content

    wrong = client.post("/console/login/code/", {"code": "000000"}, REMOTE_ADDR="203.0.113.7")
    assert wrong.status_code == 200 and b"code did not match" in wrong.content
    assert not signed_in(client)

    time.sleep(1.1)  # django-otp slows a device down for a second after a wrong code
    # The code of the next 30 s step (accepted, as a phone whose clock runs a little ahead): the
    # current one was used up by the set-up, and a code is never accepted twice.
    right = client.post("/console/login/code/", {"code": totp(secret, at=time.time() + 30)})
    assert right.status_code == 302 and right["Location"] == "/console/"
    assert signed_in(client)


def test_a_backup_code_signs_in_once(alex: Any) -> None:
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    _secret, codes = turn_on_two_factor(client)

    first = Client()
    sign_in(first, CONSOLE_LOGIN, "alex", "pw-alex")
    assert first.post("/console/login/code/", {"code": codes[0].upper()}).status_code == 302
    assert signed_in(first)

    again = Client()
    sign_in(again, CONSOLE_LOGIN, "alex", "pw-alex")
    assert b"code did not match" in again.post("/console/login/code/", {"code": codes[0]}).content
    assert not signed_in(again)


def test_wrong_codes_count_towards_the_lockout(alex: Any) -> None:
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    turn_on_two_factor(client)

    attacker = Client()  # who knows the password
    sign_in(attacker, CONSOLE_LOGIN, "alex", "pw-alex")
    statuses = [attacker.post("/console/login/code/", {"code": f"{n:06d}"}).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert attacker.get("/console/login/code/").status_code == 429
    assert sign_in(Client(), CONSOLE_LOGIN, "alex", "pw-alex", ip="192.0.2.99").status_code == 429


def test_the_admin_login_asks_an_account_with_two_factor_for_its_code(boss: Any) -> None:
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "boss", "pw-boss")
    secret, _codes = turn_on_two_factor(client)

    password_only = Client()
    page = sign_in(password_only, ADMIN_LOGIN, "boss", "pw-boss")
    assert page.status_code == 200 and b"code of your authenticator app" in page.content
    assert password_only.get("/admin/").status_code == 302

    with_code = Client()
    response = sign_in(with_code, ADMIN_LOGIN, "boss", "pw-boss", code=totp(secret, at=time.time() + 30))
    assert response.status_code == 302
    assert with_code.get("/admin/").status_code == 200


def test_a_session_from_before_two_factor_was_turned_on_must_sign_in_again(alex: Any) -> None:
    old_session = Client()
    sign_in(old_session, CONSOLE_LOGIN, "alex", "pw-alex")
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    turn_on_two_factor(client)

    response = old_session.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")
    assert not signed_in(old_session)


def test_the_console_socket_refuses_a_session_that_owes_its_second_factor(alex: Any) -> None:
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    assert console_operator(alex, client.session) is not None  # no second factor yet
    turn_on_two_factor(client)
    assert console_operator(alex, client.session) is not None  # verified while turning it on
    assert console_operator(alex, {}) is None  # a session signed in with the password alone


def test_admins_must_set_up_two_factor_when_the_setting_requires_it(settings: Any, alex: Any, boss: Any) -> None:
    settings.CHATBOT_REQUIRE_2FA_FOR_ADMINS = True

    operator = Client()
    sign_in(operator, CONSOLE_LOGIN, "alex", "pw-alex")
    assert signed_in(operator)  # the setting is for admins

    admin = Client()
    sign_in(admin, CONSOLE_LOGIN, "boss", "pw-boss")
    for page in ("/console/", "/console/exports/", "/admin/"):
        response = admin.get(page, follow=True)
        assert response.redirect_chain[-1][0] == "/console/two-factor/", page
    assert b"Admins must sign in with a second factor" in admin.get("/console/two-factor/").content
    secret, _codes = turn_on_two_factor(admin)
    assert signed_in(admin)
    assert admin.get("/admin/").status_code == 200
    # ... and it cannot be turned off while required.
    refused = admin.post("/console/two-factor/", {"action": "disable", "code": totp(secret, at=time.time() + 30)})
    assert b"cannot be turned off" in refused.content


def test_an_operator_turns_two_factor_off_with_a_current_code(alex: Any) -> None:
    client = Client()
    sign_in(client, CONSOLE_LOGIN, "alex", "pw-alex")
    secret, _codes = turn_on_two_factor(client)
    assert b'data-testid="two-factor-on"' in client.get("/console/two-factor/").content
    client.post("/console/two-factor/", {"action": "disable", "code": totp(secret, at=time.time() + 30)})
    assert b'data-testid="two-factor-on"' not in client.get("/console/two-factor/").content

    again = Client()
    assert sign_in(again, CONSOLE_LOGIN, "alex", "pw-alex")["Location"] == "/console/"
