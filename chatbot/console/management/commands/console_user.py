"""Create or update a console account: `python manage.py console_user NAME --role operator --site demo`.

The account belongs to the organisation given with --organisation (a slug), else to that of its
sites (all of one organisation), else to the default organisation; an `admin` is an admin of it.

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
from chatbot.sites.models import Organisation, Site, default_organisation_id


class Command(BaseCommand):
    help = "Create or update an operator or admin of the console."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR)
        parser.add_argument("--site", action="append", default=[], help="a site key the operator works on (repeat)")
        parser.add_argument("--organisation", default="", help="the organisation's slug (default: its sites')")
        parser.add_argument("--name", default="", help="the name customers see")
        parser.add_argument("--password", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        sites = []
        for key in options["site"]:
            site = Site.objects.filter(key=key).first()
            if site is None:
                raise CommandError(f"No site with key {key!r}.")
            sites.append(site)
        organisation = self._organisation(options["organisation"], sites)
        password = options["password"] or os.environ.get("CONSOLE_PASSWORD")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        user, created = get_user_model().objects.get_or_create(username=options["username"])
        user.set_password(password)
        user.save()
        operator, _ = Operator.objects.update_or_create(
            user=user, defaults={"organisation": organisation, "role": options["role"], "display_name": options["name"]}
        )
        operator.sites.add(*sites)
        shown = f" / {password}" if generated else ""
        verb = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {operator.role} {user.get_username()} of {organisation.slug}{shown}")
        )

    def _organisation(self, slug: str, sites: list[Site]) -> Organisation:
        if slug:
            organisation = Organisation.objects.filter(slug=slug).first()
            if organisation is None:
                raise CommandError(f"No organisation with slug {slug!r}.")
        elif sites:
            organisation = sites[0].organisation
        else:
            organisation = Organisation.objects.get(pk=default_organisation_id())
        strangers = [s.key for s in sites if s.organisation_id != organisation.pk]
        if strangers:
            raise CommandError(
                f"Site(s) {', '.join(strangers)} belong to another organisation than {organisation.slug}."
            )
        return organisation
