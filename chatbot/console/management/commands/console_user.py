"""Create or update a console account: `python manage.py console_user NAME --role operator --site demo`.

The password is read from --password, the CONSOLE_PASSWORD environment variable, or generated
and printed once.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.console.models import Operator, Role
from chatbot.sites.models import Site


class Command(BaseCommand):
    help = "Create or update an operator or admin of the console."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR)
        parser.add_argument("--site", action="append", default=[], help="a site key the operator works on (repeat)")
        parser.add_argument("--name", default="", help="the name customers see")
        parser.add_argument("--password", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        sites = []
        for key in options["site"]:
            site = Site.objects.filter(key=key).first()
            if site is None:
                raise CommandError(f"No site with key {key!r}.")
            sites.append(site)
        password = options["password"] or os.environ.get("CONSOLE_PASSWORD")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        user, created = get_user_model().objects.get_or_create(username=options["username"])
        user.set_password(password)
        user.save()
        operator, _ = Operator.objects.update_or_create(
            user=user, defaults={"role": options["role"], "display_name": options["name"]}
        )
        operator.sites.add(*sites)
        shown = f" / {password}" if generated else ""
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {operator.role} {user.get_username()}{shown}"))
