"""Who may see and do what in the console: staff sign in with Django auth (and a second factor
where they have one or the settings require it), and their Operator record says their
organisation, role and sites. Everything an operator sees is scoped to their organisation: an
admin sees all its sites, an operator the ones of it they are given, and nobody anything of
another organisation. A superuser without a record is made an admin of the default organisation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from chatbot.console.models import Operator, Role
from chatbot.console.two_factor import two_factor_enabled, two_factor_satisfied
from chatbot.conversations.models import Conversation
from chatbot.sites.models import Site

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def operator_for(user: Any) -> Operator | None:
    """The signed-in user's Operator record (created as admin for a superuser), else None."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    operator = Operator.objects.filter(user=user).select_related("user", "organisation").first()
    if operator is None and user.is_superuser:
        operator, _ = Operator.objects.get_or_create(user=user, defaults={"role": Role.ADMIN})
    return operator


def console_operator(user: Any, session: Mapping[str, Any]) -> Operator | None:
    """The operator a signed-in session acts as (the console's websocket asks this), or None while
    the session still owes a second factor."""
    operator = operator_for(user)
    if operator is None or not two_factor_satisfied(user, session):
        return None
    return operator


def sites_for(operator: Operator) -> QuerySet[Site]:
    """The sites `operator` works on, never outside their organisation (a site given to an operator
    and later moved to another organisation drops out)."""
    own = Site.objects.filter(organisation=operator.organisation)
    return own if operator.is_admin else own.filter(operators=operator)


def site_ids_for(operator: Operator) -> set[int]:
    return set(sites_for(operator).values_list("pk", flat=True))


def conversations_for(operator: Operator) -> QuerySet[Conversation]:
    return Conversation.objects.filter(site__in=sites_for(operator))


def can_access_site(operator: Operator, site_id: int) -> bool:
    return sites_for(operator).filter(pk=site_id).exists()


def two_factor_redirect(request: HttpRequest) -> HttpResponseBase:
    """Where a session that still owes a second factor goes: an account that has one but whose
    session was not verified with it (signed in before it was turned on) signs in again; an admin
    whom the settings require to have one sets it up."""
    if two_factor_enabled(request.user):
        logout(request)
        return redirect_to_login(request.get_full_path(), "console:login")
    messages.warning(request, "Set up two-factor sign-in first: it is required for admins.")
    return redirect("console:two_factor")


def console_view(*, admin_only: bool = False, platform_only: bool = False) -> Callable[[_View], _View]:
    """A console page: signed in (else to the login page), an operator (else 403), for
    `admin_only` pages an admin (of their organisation), for `platform_only` ones the install's own
    staff (`Operator.is_platform_staff`). The view finds the operator on `request.operator`."""

    def decorate(view: _View) -> _View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            operator = operator_for(request.user)
            if operator is None:
                raise PermissionDenied("This account has no access to the console.")
            if not two_factor_satisfied(request.user, request.session):
                return two_factor_redirect(request)
            if admin_only and not operator.is_admin:
                raise PermissionDenied("Only admins can do this.")
            if platform_only and not operator.is_platform_staff:
                raise PermissionDenied("Only the staff of this install can do this.")
            request.operator = operator  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorate
