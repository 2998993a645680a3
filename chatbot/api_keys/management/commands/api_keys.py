"""API keys from the command line:

    python manage.py api_keys create --site KEY --scopes chat,knowledge [--name TEXT]
    python manage.py api_keys list [--site KEY]
    python manage.py api_keys revoke PREFIX_OR_ID

`create` prints the new key as the last word of its output: it is shown this once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.api_keys.selectors import api_key_find, api_keys_for_sites
from chatbot.api_keys.services import ApiKeyError, api_key_create, api_key_revoke
from chatbot.sites.models import Site


class Command(BaseCommand):
    help = "Create, list or revoke API keys of the REST API."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a key; it is printed once, as the last word")
        create.add_argument("--site", required=True, help="the site's key")
        create.add_argument(
            "--scopes", required=True, help="comma-separated: chat,knowledge,transcripts,usage,webhooks"
        )
        create.add_argument("--name", default="", help="what the key is for")
        listing = actions.add_parser("list", help="the keys, by prefix")
        listing.add_argument("--site", help="only this site's keys")
        revoke = actions.add_parser("revoke", help="stop a key working")
        revoke.add_argument("key", help="the key's prefix (as `list` shows it) or id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            site = Site.objects.filter(key=options["site"]).first()
            if site is None:
                raise CommandError(f"No site with key {options['site']!r}.")
            try:
                api_key, secret = api_key_create(site=site, scopes=options["scopes"], name=options["name"])
            except ApiKeyError as exc:
                raise CommandError(str(exc)) from exc
            # Everything on stdout, the key last, so `... | awk '{print $NF}'` or `tail -1` takes it.
            self.stdout.write(f"Key #{api_key.pk} of site {site.key}, scopes {','.join(api_key.scopes)}.")
            self.stdout.write(f"Store it now, it is not shown again: {secret}")
        elif action == "list":
            sites = Site.objects.all()
            if options["site"]:
                sites = sites.filter(key=options["site"])
            for api_key in api_keys_for_sites(site_ids=sites.values_list("pk", flat=True)):
                state = f"revoked {api_key.revoked_at:%Y-%m-%d %H:%M}" if api_key.revoked_at else "active"
                used = f"{api_key.last_used_at:%Y-%m-%d %H:%M}" if api_key.last_used_at else "never"
                self.stdout.write(
                    f"{api_key.pk}\t{api_key.prefix}\t{api_key.site.key}\t{','.join(api_key.scopes)}\t"
                    f"last used {used}\t{state}\t{api_key.name}"
                )
        else:
            found = api_key_find(prefix_or_id=options["key"])
            if found is None:
                raise CommandError(f"No API key {options['key']!r}.")
            api_key_revoke(api_key=found)
            self.stdout.write(f"Revoked {found.prefix}… of site {found.site.key}.")
