"""Create (or refresh) the demo organisation, its site, its FAQ and an admin login. Idempotent;
`make run` runs it."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chatbot.console.models import CannedResponse, Operator, Role
from chatbot.intent_models.models import Intent, IntentAction
from chatbot.knowledge.services import faq_entries_from_file, faq_import
from chatbot.replies.faq_index import faq_embed_stale
from chatbot.replies.gate_tuning import gate_policy_tune, labelled_questions_read
from chatbot.replies.site_encoders import site_encoder_reset, site_encoder_train
from chatbot.sites.models import Organisation, Plan, Site

DEMO_FAQ = Path(settings.BASE_DIR) / "chatbot" / "knowledge" / "demo_faq.json"
# The same entries in Simplified Chinese, written as Chinese shoppers ask (not translated word for word).
DEMO_FAQ_ZH = Path(settings.BASE_DIR) / "chatbot" / "knowledge" / "demo_faq_zh.json"
DEMO_GREETING_ZH = "您好！我是 Lumen & Loom 智能客服，订单、配送、退换货和商品的问题都可以问我哦。"
# Names Chinese word segmentation must keep whole (Site.segmentation_terms): brands, payment methods,
# programmes and the shop's product and place names, so "羊毛毯" is not split into "羊毛" and "毯".
DEMO_SEGMENTATION_TERMS = [
    "Lumen & Loom",
    "Loom Circle",
    "Klarna",
    "PayPal",
    "Apple Pay",
    "Google Pay",
    "American Express",
    "Mastercard",
    "Visa",
    "iDEAL",
    "Bancontact",
    "OEKO-TEX",
    "FSC",
    "3D Secure",
    "Super King",
    "羊毛毯",
    "亚麻床品",
    "亚麻窗帘",
    "定制窗帘",
    "珐琅铸铁炖锅",
    "铸铁锅",
    "炻器",
    "礼品卡",
    "面料小样",
    "落地灯",
    "台灯",
    "床笠",
    "被套",
    "枕芯",
    "被芯",
    "快递柜",
    "自提点",
    "到店自提",
    "鹿特丹",
    "利兹",
    "阿姆斯特丹",
]
# Labelled customer questions about the demo FAQ, worded unlike its entries: the gate is tuned on them.
DEMO_QUESTIONS = Path(settings.BASE_DIR) / "chatbot" / "knowledge" / "demo_faq_questions.json"
DEMO_QUESTIONS_ZH = DEMO_QUESTIONS.with_name("demo_faq_questions_zh.json")
# Each language's gate is tuned on labelled questions in that language.
DEMO_QUESTIONS_BY_LANGUAGE = {"en": DEMO_QUESTIONS, "zh-hans": DEMO_QUESTIONS_ZH}
# The languages whose questions the demo answers with an encoder fine-tuned on its FAQ
# (`encoder_finetune`): English, where it answered more questions right on the development split, and
# Chinese where the deployment has an encoder that reads it (CHATBOT_EMBEDDING_MODEL_ZH).
DEMO_FINETUNED_LANGUAGES = ("en",)


def demo_finetuned_languages() -> tuple[str, ...]:
    return DEMO_FINETUNED_LANGUAGES + (("zh-hans",) if settings.CHATBOT_EMBEDDING_MODEL_ZH else ())


# Example plans: name, monthly answer quota, API calls per minute per key (None: unlimited).
DEMO_PLANS = (("free", 1_000, 30), ("pro", 50_000, 600), ("enterprise", None, None))


class Command(BaseCommand):
    help = "Create the demo site (key 'demo') with the Lumen & Loom FAQ, and an admin user."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-embed", action="store_true", help="Leave embedding to the first question.")
        parser.add_argument("--no-admin", action="store_true", help="Do not create the admin user.")
        parser.add_argument(
            "--no-finetune",
            action="store_true",
            help="Serve the deployment's encoder, not one fine-tuned on the demo FAQ (about 2 minutes of CPU, once).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = self._organisation()
        site, _ = Site.objects.update_or_create(
            key="demo",
            defaults={
                "organisation": organisation,
                "name": "Lumen & Loom",
                "allowed_origins": settings.CHATBOT_DEMO_ORIGINS,
                "allow_own_origin": True,
                "greeting": (
                    "Hi! I'm the Lumen & Loom assistant. Ask me about orders, delivery, returns or our products."
                ),
                "language": "en",
                "languages": ["en", "zh-hans"],
                "greetings": {"zh-hans": DEMO_GREETING_ZH},
                "segmentation_terms": DEMO_SEGMENTATION_TERMS,
            },
        )
        entries = faq_entries_from_file(DEMO_FAQ) + faq_entries_from_file(DEMO_FAQ_ZH)
        created, updated = faq_import(site=site, entries=entries, replace=True)
        self.stdout.write(f"Demo site 'demo': {created} FAQ entries created, {updated} updated.")
        if settings.CHATBOT_DEMO_ORIGINS:
            self.stdout.write(f"Extra allowed origins: {', '.join(settings.CHATBOT_DEMO_ORIGINS)}")
        if not options["no_embed"]:
            # The encoder first: each entry is then embedded once, by the encoder that serves it.
            for language in demo_finetuned_languages():
                if options["no_finetune"]:
                    site_encoder_reset(site=site, language=language)
                    continue
                self.stdout.write(f"Fine-tuning the sentence encoder on the demo FAQ ({language}) ...")
                trained = site_encoder_train(site=site, language=language, progress=self._progress)
                what = "trained" if trained["trained"] else "already trained"
                self.stdout.write(f"Site encoder ({language}) {what}: {trained['folder']}.")
            self.stdout.write(f"Embedded {faq_embed_stale(site=site)} FAQ entries.")
            for language, questions in DEMO_QUESTIONS_BY_LANGUAGE.items():
                if not questions.exists():
                    self.stdout.write(f"No labelled questions for the {language} gate ({questions.name}); not tuned.")
                    continue
                tuned = gate_policy_tune(
                    site=site, labelled=labelled_questions_read(questions), apply=True, language=language
                )["tuned"]
                self.stdout.write(
                    f"Answer gate ({language}) tuned on {questions.name}: threshold {tuned['answer_threshold']}, "
                    f"clarify margin {tuned['clarify_margin']} ({tuned['answered_wrong']:.0%} answered wrongly)."
                )
        self._canned_responses(site)
        self._intents(site)
        if not options["no_admin"]:
            self._admin_user(organisation)
            self._operator(site)

    def _progress(self, step: int, total: int, loss: float) -> None:
        if step % 20 == 0 or step == total:
            self.stdout.write(f"  step {step}/{total}, loss {loss:.3f}")

    def _organisation(self) -> Organisation:
        """Example plans (edit them in the admin) and the demo organisation, on the unlimited one so
        the demo never runs into a quota."""
        for name, quota, rate in DEMO_PLANS:
            Plan.objects.get_or_create(
                name=name, defaults={"monthly_answer_quota": quota, "rate_limit_per_minute": rate}
            )
        organisation, _ = Organisation.objects.update_or_create(
            slug="demo", defaults={"name": "Lumen & Loom", "plan": Plan.objects.get(name="enterprise")}
        )
        self.stdout.write(f"Demo organisation 'demo' on plan {organisation.plan}.")
        return organisation

    def _admin_user(self, organisation: Organisation) -> None:
        password = _demo_password("admin")
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        Operator.objects.update_or_create(
            user=user, defaults={"organisation": organisation, "role": Role.ADMIN, "display_name": "Admin"}
        )
        self.stdout.write(self.style.SUCCESS(f"Admin login (console and /admin/): admin / {password}"))

    def _operator(self, site: Site) -> None:
        password = _demo_password("operator")
        user, _ = get_user_model().objects.get_or_create(username="operator", defaults={"first_name": "Alex"})
        user.set_password(password)
        user.save()
        operator, _ = Operator.objects.update_or_create(
            user=user, defaults={"organisation": site.organisation, "role": Role.OPERATOR, "display_name": "Alex"}
        )
        operator.sites.add(site)
        self.stdout.write(self.style.SUCCESS(f"Operator console login: operator / {password}"))

    def _intents(self, site: Site) -> None:
        """Intents besides the FAQ. Inert until a classifier is trained: the learning loop's first
        run (console: Learning) trains one from these examples and the FAQ's phrasings."""
        for name, action, description, response, examples in DEMO_INTENTS:
            Intent.objects.get_or_create(
                site=site,
                name=name,
                defaults={"action": action, "description": description, "response": response, "examples": examples},
            )

    def _canned_responses(self, site: Site) -> None:
        for shortcut, title, text in DEMO_CANNED:
            CannedResponse.objects.update_or_create(
                site=site,
                shortcut=shortcut,
                defaults={"organisation": site.organisation, "title": title, "text": text},
            )


DEMO_INTENTS = [
    (
        "greeting",
        IntentAction.SMALLTALK,
        "The customer says hello.",
        "Hello! How can I help you today? You can ask me about orders, delivery, returns or our products.",
        [
            "hi",
            "hello",
            "hey there",
            "good morning",
            "good afternoon",
            "hello, anyone there?",
            "hi! quick question",
            "hey",
            "good evening",
            "hiya",
            "hello hello",
            "greetings",
        ],
    ),
    (
        "thanks",
        IntentAction.SMALLTALK,
        "The customer thanks us or says goodbye.",
        "You're welcome! Is there anything else I can help you with?",
        [
            "thanks",
            "thank you",
            "thanks a lot",
            "great, thank you!",
            "cheers",
            "perfect, thanks",
            "that helps, thanks",
            "ok thank you bye",
            "thank you so much",
            "many thanks",
            "bye",
            "awesome thanks",
        ],
    ),
    (
        "human",
        IntentAction.HANDOFF,
        "The customer wants a person.",
        "",
        [
            "can I talk to a real person",
            "I want to speak to someone",
            "get me an agent",
            "is there a human I can chat with",
            "connect me to customer service",
            "let me talk to your staff",
            "I need a real human please",
            "can someone from the team help me",
            "transfer me to an operator",
            "stop, I want a person",
            "speak to a representative",
            "put me through to support staff",
        ],
    ),
]

DEMO_CANNED = [
    ("hello", "Greeting", "Hi, I'm here to help. Let me have a look at this for you."),
    (
        "order",
        "Ask for the order number",
        "Could you tell me your order number? It starts with LL and is in your confirmation e-mail.",
    ),
    ("refund", "Refund timing", "Refunds reach your account within 5 to 10 working days after we receive the return."),
    ("bye", "Closing", "Is there anything else I can do for you? Have a lovely day!"),
]


def _demo_password(name: str) -> str:
    """A generated password kept in var/ (not in git), so every `make run` can print it."""
    password_file = Path(settings.BASE_DIR) / "var" / f"demo-{name}-password"
    password_file.parent.mkdir(parents=True, exist_ok=True)
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12))
        password_file.chmod(0o600)
    return password_file.read_text().strip()
