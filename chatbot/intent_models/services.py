"""A site's intents as training data for its intent classifier (`intents train --site`, the
learning loop's intent retrainer)."""

from __future__ import annotations

from chatbot.intent_models.models import Intent
from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site
from intents.datasets import Example, IntentDataset, stratified_split

FAQ_INTENT = "faq"


def site_intent_dataset(*, site: Site) -> IntentDataset:
    """Training data for a site's classifier: its active intents' examples, and every phrasing of
    its active FAQ entries as one `faq` intent (questions the FAQ answers)."""
    examples = [
        Example(str(text).strip(), intent.name)
        for intent in Intent.objects.filter(site=site, is_active=True)
        for text in intent.examples
        if str(text).strip()
    ]
    for entry in FaqEntry.objects.filter(site=site, is_active=True):
        examples.extend(Example(text, FAQ_INTENT) for text in entry.phrasings)
    train, validation = stratified_split(list(dict.fromkeys(examples)), 0.1, seed=13)
    return IntentDataset(tuple(train), tuple(validation), source=f"site:{site.key}")
