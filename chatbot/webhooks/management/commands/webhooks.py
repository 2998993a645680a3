"""`manage.py webhooks retry-due`: attempt the deliveries whose retry is due (after a restart of
the embedded demo, whose retries wait on timers; Celery beat does it every minute otherwise).
`manage.py webhooks prune`: delete the delivery log older than CHATBOT_WEBHOOK_LOG_DAYS (beat does
it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chatbot.webhooks.services import webhook_deliveries_prune, webhook_deliveries_retry_due


class Command(BaseCommand):
    help = "Webhook deliveries: retry-due attempts those whose next attempt is due; prune deletes the old log."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["retry-due", "prune"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "prune":
            self.stdout.write(f"Deleted {webhook_deliveries_prune()} old deliveries.")
        else:
            self.stdout.write(f"Attempted {webhook_deliveries_retry_due()} due deliveries.")
