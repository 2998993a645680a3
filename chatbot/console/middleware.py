"""The console in the operator's language: their own choice (`Operator.language`), else what the
browser asks for (Django's LocaleMiddleware, which runs before this one)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class OperatorLanguageMiddleware:
    """Activates a signed-in operator's language for the request. Placed after the authentication
    middleware, which is what tells who the operator is."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = _operator_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language:
            response.headers.setdefault("Content-Language", language)
        return response


def _operator_language(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    operator = getattr(user, "operator", None)  # a user without an Operator row has none
    return operator.language if operator is not None else ""
