"""Retraining a site's intent classifier (settings.CHATBOT_RETRAINERS["intents"])."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from chatbot.intent_models.models import Intent
from chatbot.intent_models.services import site_intent_dataset
from chatbot.registry.models import ModelKind
from chatbot.registry.retraining import Candidate, Progress, SkipTarget, Target, TrainingData
from chatbot.registry.selectors import model_version_active
from chatbot.sites.models import Site
from intents.classifier import EncoderIntentClassifier
from intents.datasets import Example, IntentDataset, stratified_split
from intents.encoder_training import BUNDLED_BASE
from intents.learning import PromotionRule, normalised
from intents.metrics import intent_scores
from intents.training import TrainingConfig, evaluate_intent_classifier, train_intent_classifier


class IntentRetrainer:
    """A site's intent classifier: its intents' examples, its FAQ phrasings (`faq`) and the
    questions of liked answers labelled with the intent the bot acted on."""

    kind: str = ModelKind.INTENTS
    rule: PromotionRule = PromotionRule(metric="macro_f1")

    def targets(self, site: Site | None) -> list[Target]:
        if site is not None:
            return [Target(self.kind, site)]
        keys = Intent.objects.filter(is_active=True).values_list("site_id", flat=True).distinct()
        return [Target(self.kind, s) for s in Site.objects.filter(pk__in=keys).order_by("pk")]

    def _examples(self, site: Site) -> list[Example]:
        dataset = site_intent_dataset(site=site)
        return [*dataset.train, *dataset.validation]

    def golden_build(self, target: Target) -> tuple[list[dict[str, Any]], str]:
        site = _site_of(target)
        examples = self._examples(site)
        if len({e.intent for e in examples}) < 2:
            return [], f"site {site.key} has examples of fewer than two intents (add intents with examples)"
        _, held = stratified_split(examples, settings.CHATBOT_LEARNING_GOLDEN_FRACTION, seed=29)
        return [{"text": e.text, "intent": e.intent} for e in held], f"site {site.key}: intents and FAQ"

    def train(self, target: Target, data: TrainingData, out: Path, progress: Progress) -> Candidate:
        site = _site_of(target)
        own = self._examples(site)
        known = {e.intent for e in own}
        examples = own + [
            Example(pair.question, pair.intent)
            for pair in data.pairs
            if pair.source == "liked_answer" and pair.site == site.key and pair.intent in known
        ]
        held = data.golden_questions()
        unique = list(dict.fromkeys(e for e in examples if normalised(e.text) not in held))
        config = TrainingConfig(
            epochs=settings.CHATBOT_LEARNING_INTENT_EPOCHS, device=settings.CHATBOT_LEARNING_DEVICE, batch_size=16
        )
        train_intent_classifier(
            IntentDataset(tuple(unique), (), source=f"learning:{site.key}"),
            out,
            config,
            lambda step, total, _: progress(step, total),
        )
        return Candidate(out, len(unique), BUNDLED_BASE, {"site": site.key})

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        examples = [Example(str(row["text"]), str(row["intent"])) for row in golden]
        if location is None:
            return _majority_baseline([e.intent for e in examples])
        classifier = EncoderIntentClassifier.load(location, device=settings.CHATBOT_LEARNING_DEVICE)
        return evaluate_intent_classifier(classifier, examples)

    def active_location(self, target: Target) -> tuple[str | None, str]:
        site = _site_of(target)
        version = model_version_active(kind=self.kind, scope=target.scope)
        if version is not None:
            return version.path, version.name
        if site.intent_model_dir and Path(site.intent_model_dir).is_dir():
            return site.intent_model_dir, Path(site.intent_model_dir).name
        return None, "no classifier (always the most frequent intent)"


def _majority_baseline(gold: Sequence[str]) -> dict[str, Any]:
    majority = max(set(gold), key=list(gold).count)
    return intent_scores(gold, [majority] * len(gold), [1.0] * len(gold), [])


def _site_of(target: Target) -> Site:
    if target.site is None:
        raise SkipTarget(f"{target.kind} models belong to a site")
    return target.site
