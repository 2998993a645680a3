"""Create (or refresh) the demo site, its FAQ and an admin login. Idempotent; `make run` runs it."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chatbot.intents.services import gate_policy_tune, labelled_questions_read
from chatbot.knowledge.answering import faq_embed_stale
from chatbot.knowledge.services import faq_entries_from_file, faq_import
from chatbot.sites.models import Site

DEMO_FAQ = Path(settings.BASE_DIR) / "chatbot" / "knowledge" / "demo_faq.json"
# Labelled customer questions about the demo FAQ, worded unlike its entries: the gate is tuned on them.
DEMO_QUESTIONS = Path(settings.BASE_DIR) / "chatbot" / "knowledge" / "demo_faq_questions.json"


class Command(BaseCommand):
    help = "Create the demo site (key 'demo') with the Lumen & Loom FAQ, and an admin user."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-embed", action="store_true", help="Leave embedding to the first question.")
        parser.add_argument("--no-admin", action="store_true", help="Do not create the admin user.")

    def handle(self, *args: Any, **options: Any) -> None:
        site, _ = Site.objects.update_or_create(
            key="demo",
            defaults={
                "name": "Lumen & Loom",
                "allowed_origins": settings.CHATBOT_DEMO_ORIGINS,
                "allow_own_origin": True,
                "greeting": (
                    "Hi! I'm the Lumen & Loom assistant. Ask me about orders, delivery, returns or our products."
                ),
            },
        )
        created, updated = faq_import(site=site, entries=faq_entries_from_file(DEMO_FAQ), replace=True)
        self.stdout.write(f"Demo site 'demo': {created} FAQ entries created, {updated} updated.")
        if settings.CHATBOT_DEMO_ORIGINS:
            self.stdout.write(f"Extra allowed origins: {', '.join(settings.CHATBOT_DEMO_ORIGINS)}")
        if not options["no_embed"]:
            self.stdout.write(f"Embedded {faq_embed_stale(site=site)} FAQ entries.")
            tuned = gate_policy_tune(site=site, labelled=labelled_questions_read(DEMO_QUESTIONS), apply=True)["tuned"]
            self.stdout.write(
                f"Answer gate tuned on {DEMO_QUESTIONS.name}: threshold {tuned['answer_threshold']}, "
                f"clarify margin {tuned['clarify_margin']} ({tuned['answered_wrong']:.0%} answered wrongly)."
            )
        if not options["no_admin"]:
            self._admin_user()

    def _admin_user(self) -> None:
        # The generated password is kept in var/ (not in git) so every `make run` can print it.
        password_file = Path(settings.BASE_DIR) / "var" / "demo-admin-password"
        password_file.parent.mkdir(parents=True, exist_ok=True)
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(12))
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(f"Admin login: admin / {password}"))
