"""Console pages. The inbox page is a shell: its script talks to the console websocket. Also signing
in (password, then a two-factor code for accounts that have one) and two-factor set-up."""

from __future__ import annotations

import time
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from chatbot.console.access import console_view, operator_for, sites_for
from chatbot.console.models import CannedResponse
from chatbot.console.services import ConsoleActionError, operator_language_set
from chatbot.console.two_factor import (
    two_factor_backup_codes_left,
    two_factor_backup_codes_renew,
    two_factor_confirm,
    two_factor_device_for_code,
    two_factor_disable,
    two_factor_enabled,
    two_factor_qr_data_uri,
    two_factor_required,
    two_factor_satisfied,
    two_factor_secret,
    two_factor_setup_device,
    two_factor_verified,
)


@console_view()
def inbox(request: HttpRequest) -> HttpResponse:
    operator = request.operator  # type: ignore[attr-defined]
    sites = list(sites_for(operator).order_by("name"))
    canned = CannedResponse.objects.filter(site__in=sites) | CannedResponse.objects.filter(
        site__isnull=True, organisation_id=operator.organisation_id
    )
    context = {
        "nav": "inbox",
        "sites": sites,
        "canned": [{"shortcut": c.shortcut, "title": c.title, "text": c.text, "site": c.site_id} for c in canned],
        "heartbeat_s": max(5, settings.CHATBOT_OPERATOR_ONLINE_S // 3),
    }
    return render(request, "console/inbox.html", context)


@require_POST
@console_view()
def language(request: HttpRequest) -> HttpResponse:
    """The operator picks the console's language (empty: the browser's); back to the page they were on."""
    operator = request.operator  # type: ignore[attr-defined]
    try:
        operator_language_set(operator=operator, language=request.POST.get("language", "").strip())
    except ConsoleActionError as exc:
        messages.error(request, exc.message)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("console:inbox")
    return redirect(back)


# --- Signing in: password, then (for accounts that have it) a code of the authenticator app. ---
# Between the two steps the session holds who gave the right password, for this long, not signed in.
_PENDING = "console_sign_in_pending"
_PENDING_MAX_AGE_S = 300


class ConsoleLoginView(LoginView):
    """The console's sign-in. Failed attempts are counted per username and per address by
    django-axes (its backend refuses a locked-out one before the password is checked). An account
    with two-factor sign-in is not signed in yet: the next page asks for its code."""

    template_name = "console/login.html"

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not two_factor_enabled(user):
            return super().form_valid(form)
        self.request.session[_PENDING] = {
            "user": user.pk,
            "backend": user.backend,  # set by authenticate()
            "at": time.time(),
            "next": self.get_success_url(),
        }
        return redirect("console:login_code")


def _pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > _PENDING_MAX_AGE_S:
        request.session.pop(_PENDING, None)
        return None
    user = get_user_model().objects.filter(pk=int(pending.get("user", 0)), is_active=True).first()
    return (user, pending) if user is not None else None


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code of the account's authenticator app, or a backup code.
    A wrong code counts as a failed sign-in (django-axes), like a wrong password."""
    found = _pending_user(request)
    if found is None:
        messages.info(request, "Sign in again: the sign-in took too long.")
        return redirect("console:login")
    user, pending = found
    credentials = {"username": user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        return sign_in_locked_out(request, None, credentials)
    error = ""
    if request.method == "POST":
        device = two_factor_device_for_code(user, request.POST.get("code", ""))
        if device is not None:
            del request.session[_PENDING]
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, device)
            return redirect(pending["next"])
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if not AxesProxyHandler.is_allowed(request, credentials):
            return sign_in_locked_out(request, None, credentials)
        error = "That code did not match. Enter the current code of your authenticator app, or a backup code."
    return render(request, "console/login_code.html", {"error": error})


def sign_in_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """What the console's and the admin's sign-in answer once a username or an address has failed
    too often (django-axes' AXES_LOCKOUT_CALLABLE): 429, and how long it lasts."""
    context = {"minutes": settings.CHATBOT_LOGIN_LOCKOUT_MINUTES, "limit": settings.AXES_FAILURE_LIMIT}
    response = render(request, "console/locked_out.html", context, status=429)
    if settings.CHATBOT_LOGIN_LOCKOUT_MINUTES:
        response["Retry-After"] = str(settings.CHATBOT_LOGIN_LOCKOUT_MINUTES * 60)
    return response


@login_required
@sensitive_post_parameters("code")
@never_cache
def two_factor(request: HttpRequest) -> HttpResponse:
    """Two-factor sign-in for the signed-in account: set up (QR code, then a code to confirm),
    new backup codes, or turning it off (not while the settings require it)."""
    user = request.user
    enabled = two_factor_enabled(user)
    if enabled and not two_factor_verified(user, request.session):
        # A session signed in before two-factor sign-in was turned on, elsewhere: sign in again.
        return _sign_in_again(request)
    required = two_factor_required(user)
    context: dict[str, Any] = {"enabled": enabled, "required": required, "error": ""}
    if request.method == "POST":
        action, code = request.POST.get("action"), request.POST.get("code", "")
        if action == "confirm" and not enabled:
            codes = two_factor_confirm(request=request, device=two_factor_setup_device(user), code=code)
            if codes is not None:
                return _backup_codes_page(request, codes, turned_on=True)
            context["error"] = "That code did not match. Enter the code your app shows now."
        elif action in {"backup_codes", "disable"} and enabled:
            if two_factor_device_for_code(user, code) is None:
                context["error"] = "That code did not match."
            elif action == "backup_codes":
                return _backup_codes_page(request, two_factor_backup_codes_renew(user=user), turned_on=False)
            elif required:
                context["error"] = "Two-factor sign-in is required for admins here; it cannot be turned off."
            else:
                two_factor_disable(user=user)
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("console:two_factor")
    if enabled:
        context["backup_codes_left"] = two_factor_backup_codes_left(user)
    else:
        device = two_factor_setup_device(user)
        context.update({"qr": two_factor_qr_data_uri(device), "secret": two_factor_secret(device)})
    _show_console_nav(request)
    return render(request, "console/two_factor.html", context)


def _backup_codes_page(request: HttpRequest, codes: list[str], *, turned_on: bool) -> HttpResponse:
    _show_console_nav(request)
    return render(request, "console/two_factor_codes.html", {"codes": codes, "turned_on": turned_on})


def _show_console_nav(request: HttpRequest) -> None:
    if two_factor_satisfied(request.user, request.session):
        request.operator = operator_for(request.user)  # type: ignore[attr-defined]


def _sign_in_again(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect_to_login(request.get_full_path(), "console:login")
