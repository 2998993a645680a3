from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from chatbot.console import organisation_views, views

app_name = "console"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("login/", views.ConsoleLoginView.as_view(), name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("language/", views.language, name="language"),
    # The console scripts' strings in the operator's language (locale/*/LC_MESSAGES/djangojs.po).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="jsi18n"),
    path("organisation/", organisation_views.organisation, name="organisation"),
    path("organisation/operators/<int:operator_id>/", organisation_views.operator_change, name="operator_change"),
]
