"""A site's intents as training data for its intent classifier (`intents train --site`, the
learning loop's intent retrainer)."""

from __future__ import annotations

from chatbot.intent_models.models import Intent
from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site
from intents.datasets import Example, IntentDataset, stratified_split

FAQ_INTENT = "faq"
# Phrasings of each FAQ entry in the `faq` intent: enough to show the classifier what the FAQ is
# about; an FAQ with a dozen alternatives per entry would otherwise outweigh every other intent
# and multiply training time.
FAQ_PHRASINGS_PER_ENTRY = 5


def site_intent_dataset(*, site: Site) -> IntentDataset:
    """Training data for a site's classifier: its active intents' examples, and every phrasing of
    its active FAQ entries (the first `FAQ_PHRASINGS_PER_ENTRY`) as one `faq` intent (questions the
    FAQ answers)."""
    examples = [
        Example(str(text).strip(), intent.name)
        for intent in Intent.objects.filter(site=site, is_active=True)
        for text in intent.examples
        if str(text).strip()
    ]
    for entry in FaqEntry.objects.filter(site=site, is_active=True):
        examples.extend(Example(text, FAQ_INTENT) for text in entry.phrasings[:FAQ_PHRASINGS_PER_ENTRY])
    train, validation = stratified_split(list(dict.fromkeys(examples)), 0.1, seed=13)
    return IntentDataset(tuple(train), tuple(validation), source=f"site:{site.key}")
