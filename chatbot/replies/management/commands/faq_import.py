"""Load a site's FAQ from a JSON file: `python manage.py faq_import --site KEY faq.json [--replace]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chatbot.knowledge.services import FaqFileError, faq_entries_from_file, faq_import
from chatbot.replies.faq_index import faq_embed_stale
from chatbot.sites.models import Site


class Command(BaseCommand):
    help = "Create or update FAQ entries from a JSON list of {question, alternatives, answer, tags}."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--site", required=True, help="The site's key.")
        parser.add_argument("--replace", action="store_true", help="Delete the site's entries not in the file.")
        parser.add_argument("--no-embed", action="store_true", help="Leave embedding to the workers.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"No site with key {options['site']!r}.")
        try:
            entries = faq_entries_from_file(options["file"])
        except FaqFileError as exc:
            raise CommandError(str(exc)) from exc
        created, updated = faq_import(site=site, entries=entries, replace=options["replace"])
        self.stdout.write(f"{created} created, {updated} updated.")
        if not options["no_embed"]:
            self.stdout.write(f"Embedded {faq_embed_stale(site=site)} entries.")
