from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

from chatbot.security_headers import csp_inline_styles
from chatbot.sites.models import Site


@csp_inline_styles  # the shop's own styles are inline, as on many a customer's site
def demo_page(request: HttpRequest) -> HttpResponse:
    """A demo shop page embedding the widget exactly as a customer's site would."""
    site_key = request.GET.get("site", "demo")
    if not Site.objects.filter(key=site_key, is_active=True).exists():
        return HttpResponse(
            f"No active site {site_key!r}. Run `python manage.py demo_setup` (make run does).",
            status=404,
            content_type="text/plain",
        )
    context = {"widget_url": request.build_absolute_uri(static("chatbot/widget.js")), "site_key": site_key}
    return render(request, "demo/index.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True, "dispatch": settings.CHATBOT_DISPATCH})
