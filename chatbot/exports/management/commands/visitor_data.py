"""A data subject's request from the command line:

    python manage.py visitor_data export VISITOR_ID [--output FILE]
    python manage.py visitor_data erase VISITOR_ID [--no-input]

`export` writes everything stored about the visitor as JSON (to stdout by default); `erase`
deletes it, after asking, unless --no-input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.exports.selectors import visitor_data_export, visitor_get
from chatbot.exports.services import visitor_data_erase


class Command(BaseCommand):
    help = "Export or erase everything stored about one visitor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("visitor", help="the visitor's id (a UUID, as in exports)")
        parser.add_argument("--output", type=Path, help="export: write the JSON here instead of stdout")
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive", help="erase without asking"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        visitor = visitor_get(public_id=options["visitor"])
        if visitor is None:
            raise CommandError(f"No visitor with id {options['visitor']!r} (or their data was already erased).")
        if options["action"] == "export":
            text = json.dumps(visitor_data_export(visitor=visitor), ensure_ascii=False, indent=2)
            if options["output"]:
                options["output"].write_text(text + "\n", encoding="utf-8")
                self.stderr.write(f"Wrote {options['output']}")
            else:
                self.stdout.write(text)
            return
        if options["interactive"]:
            answer = input(f"Erase everything stored about visitor {visitor.public_id}? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("Nothing erased.")
        erasure = visitor_data_erase(visitor=visitor)
        self.stdout.write(
            self.style.SUCCESS(
                f"Erased: {erasure.conversations} conversations, {erasure.messages} messages, "
                f"{erasure.contact_requests} contact requests, {erasure.notes} notes."
            )
        )
