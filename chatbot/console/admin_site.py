"""The admin site, with the console's sign-in rules: a wrong password counts towards the lockout
(django-axes, through its authentication backend), an account with two-factor sign-in enters its code
on the admin's login page too, and a session that still owes a second factor (an admin whom
CHATBOT_REQUIRE_2FA_FOR_ADMINS requires to set one up) gets no admin page but the console's set-up."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from chatbot.console.two_factor import (
    two_factor_device_for_code,
    two_factor_enabled,
    two_factor_required,
    two_factor_satisfied,
)


class AdminSignInForm(AdminAuthenticationForm):
    code = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=32,
        help_text="Only if your account uses two-factor sign-in: your app's code or a backup code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # the password (axes may refuse first), then is_staff
        user = self.get_user()
        if user is not None and two_factor_enabled(user):
            device = two_factor_device_for_code(user, cleaned.get("code") or "")
            if device is None:
                # A wrong or missing code is a failed sign-in, counted like a wrong password.
                user_login_failed.send(
                    sender=__name__, credentials={"username": user.get_username()}, request=self.request
                )
                raise forms.ValidationError(
                    "Enter the current code of your authenticator app (or a backup code).", code="two_factor"
                )
            # django_otp marks the session verified when it signs in with this attribute set.
            user.otp_device = device  # type: ignore[attr-defined]
        return cleaned


class ChatbotAdminSite(admin.AdminSite):
    login_form = AdminSignInForm
    login_template = "admin/chatbot_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor_satisfied(request.user, request.session)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        user = request.user
        if (
            request.method == "GET"
            and user.is_active
            and user.is_staff
            and two_factor_required(user)
            and not two_factor_enabled(user)
        ):
            return HttpResponseRedirect(reverse("console:two_factor"))
        return super().login(request, extra_context)
