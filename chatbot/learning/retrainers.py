"""How each kind of model is retrained from the learning data set and judged on its golden set.

A `Retrainer` knows, for its kind: the golden set (built once, then frozen), how to train a
candidate from the prepared training pairs, how to score any model of the kind on the golden set,
and which model is serving now. `chatbot.learning.services` runs them all the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from chatbot.learning.golden import golden_questions, golden_rows
from chatbot.learning.selectors import sentiment_corrections
from chatbot.registry.models import ModelKind
from chatbot.registry.selectors import model_version_active, site_scope
from chatbot.sites.models import Site
from intents.datasets import Example, IntentDataset, stratified_split
from intents.learning import PromotionRule, TrainingPair, normalised

Progress = Callable[[int, int], None]  # (done, total) within the current step


@dataclass(frozen=True)
class Target:
    """What one retrainer works on in a run: a kind, for one site or for all."""

    kind: str
    site: Site | None

    @property
    def scope(self) -> str:
        return site_scope(self.site.key) if self.site is not None and self.kind == ModelKind.INTENTS else ""

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.site.key})" if self.kind == ModelKind.INTENTS and self.site else self.kind


@dataclass
class Candidate:
    path: Path
    examples: int
    base_model: str
    manifest: dict[str, Any] = field(default_factory=dict)


class SkipTarget(Exception):
    """Nothing to retrain for this target (e.g. no labelled data configured); the message says why."""


class Retrainer(Protocol):
    kind: str
    rule: PromotionRule

    def targets(self, site: Site | None) -> list[Target]: ...

    def golden(self, target: Target) -> list[dict[str, Any]]: ...

    def train(
        self, target: Target, pairs: Sequence[TrainingPair], golden: list[dict[str, Any]], out: Path, progress: Progress
    ) -> Candidate: ...

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        """Scores of the model at `location`; None: of what serves when no model is active
        (a baseline), or {} when there is nothing to score."""
        ...

    def active_location(self, target: Target) -> tuple[str | None, str]:
        """(location, name) of the model serving now; (None, what serves instead) when none."""
        ...


# --- Intents ---------------------------------------------------------------------------------


class IntentRetrainer:
    """A site's intent classifier: its intents' examples, its FAQ phrasings (`faq`) and the
    questions of liked answers labelled with the intent the bot acted on."""

    kind: str = ModelKind.INTENTS
    rule: PromotionRule = PromotionRule(metric="macro_f1")

    def targets(self, site: Site | None) -> list[Target]:
        from chatbot.intents.models import Intent

        if site is not None:
            return [Target(self.kind, site)]
        keys = Intent.objects.filter(is_active=True).values_list("site_id", flat=True).distinct()
        return [Target(self.kind, s) for s in Site.objects.filter(pk__in=keys).order_by("pk")]

    def _examples(self, site: Site) -> list[Example]:
        from chatbot.intents.services import site_intent_dataset

        dataset = site_intent_dataset(site=site)
        return [*dataset.train, *dataset.validation]

    def golden(self, target: Target) -> list[dict[str, Any]]:
        site = _site_of(target)

        def build() -> tuple[list[dict[str, Any]], str]:
            examples = self._examples(site)
            if len({e.intent for e in examples}) < 2:
                return [], f"site {site.key} has examples of fewer than two intents (add intents with examples)"
            _, held = stratified_split(examples, settings.CHATBOT_LEARNING_GOLDEN_FRACTION, seed=29)
            return [{"text": e.text, "intent": e.intent} for e in held], f"site {site.key}: intents and FAQ"

        return golden_rows(kind=self.kind, scope=target.scope, build=build)

    def train(
        self, target: Target, pairs: Sequence[TrainingPair], golden: list[dict[str, Any]], out: Path, progress: Progress
    ) -> Candidate:
        from intents.training import TrainingConfig, train_intent_classifier

        site = _site_of(target)
        own = self._examples(site)
        known = {e.intent for e in own}
        examples = own + [
            Example(pair.question, pair.intent)
            for pair in pairs
            if pair.source == "liked_answer" and pair.site == site.key and pair.intent in known
        ]
        held = golden_questions(golden)
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
        return Candidate(out, len(unique), "sentence-transformers/all-MiniLM-L6-v2 (bundled)", {"site": site.key})

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        from intents.classifier import EncoderIntentClassifier
        from intents.training import evaluate_intent_classifier

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
    from intents.metrics import intent_scores

    majority = max(set(gold), key=list(gold).count)
    return intent_scores(gold, [majority] * len(gold), [1.0] * len(gold), [])


def _site_of(target: Target) -> Site:
    if target.site is None:
        raise SkipTarget(f"{target.kind} models belong to a site")
    return target.site


# --- Sentiment -------------------------------------------------------------------------------


class SentimentRetrainer:
    """The shared sentiment model: labelled data (CHATBOT_LEARNING_SENTIMENT_DATA) and the labels
    operators corrected in the console."""

    kind: str = ModelKind.SENTIMENT
    rule: PromotionRule = PromotionRule(metric="macro_f1")

    def targets(self, site: Site | None) -> list[Target]:
        return [Target(self.kind, site)]

    def _dataset(self) -> Any:
        from intents.sentiment import SentimentFormat, load_sentiment

        path = settings.CHATBOT_LEARNING_SENTIMENT_DATA
        if not path:
            raise SkipTarget("no labelled sentiment data: set CHATBOT_LEARNING_SENTIMENT_DATA")
        if not Path(path).is_file():
            raise SkipTarget(f"CHATBOT_LEARNING_SENTIMENT_DATA {path!r} is not a file")
        data_format: SentimentFormat = "csv" if settings.CHATBOT_LEARNING_SENTIMENT_FORMAT == "csv" else "airline"
        return load_sentiment(data_format, path, validation_fraction=0.1)

    def golden(self, target: Target) -> list[dict[str, Any]]:
        def build() -> tuple[list[dict[str, Any]], str]:
            dataset = self._dataset()
            size = settings.CHATBOT_LEARNING_GOLDEN_SENTIMENT
            held = list(dataset.validation)
            fraction = min(1.0, size / max(1, len(held)))
            _, chosen = stratified_split(held, fraction, seed=29, key=lambda e: e.label) if fraction < 1 else ([], held)
            return [{"text": e.text, "label": e.label} for e in chosen], f"{settings.CHATBOT_LEARNING_SENTIMENT_DATA}"

        return golden_rows(kind=self.kind, scope=target.scope, build=build)

    def train(
        self, target: Target, pairs: Sequence[TrainingPair], golden: list[dict[str, Any]], out: Path, progress: Progress
    ) -> Candidate:
        from intents.redaction import redact
        from intents.sentiment import SentimentDataset, SentimentExample
        from intents.sentiment_training import SentimentTrainingConfig, train_sentiment_classifier

        dataset = self._dataset()
        held = golden_questions(golden)
        train = [e for e in dataset.train if normalised(e.text) not in held]
        limit = settings.CHATBOT_LEARNING_SENTIMENT_MAX_EXAMPLES
        if limit and len(train) > limit:
            _, train = stratified_split(train, limit / len(train), seed=31, key=lambda e: e.label)
        corrected = [
            SentimentExample(redact(text), label)
            for text, label in sentiment_corrections(site=target.site)
            if normalised(text) not in held
        ]
        examples = [*train, *corrected]
        config = SentimentTrainingConfig(
            epochs=settings.CHATBOT_LEARNING_SENTIMENT_EPOCHS, device=settings.CHATBOT_LEARNING_DEVICE
        )
        train_sentiment_classifier(
            SentimentDataset(tuple(examples), (), source=dataset.source),
            out,
            config,
            lambda step, total, _: progress(step, total),
        )
        return Candidate(
            out,
            len(examples),
            "sentence-transformers/all-MiniLM-L6-v2 (bundled)",
            {"labelled_file": str(settings.CHATBOT_LEARNING_SENTIMENT_DATA), "corrections": len(corrected)},
        )

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        from intents.sentiment import (
            EncoderSentimentScorer,
            LexiconSentimentScorer,
            SentimentExample,
            SentimentScorer,
            evaluate_sentiment_scorer,
        )

        scorer: SentimentScorer = (
            LexiconSentimentScorer()
            if location is None
            else EncoderSentimentScorer.load(location, device=settings.CHATBOT_LEARNING_DEVICE)
        )
        examples = [SentimentExample(str(row["text"]), str(row["label"])) for row in golden]
        return evaluate_sentiment_scorer(scorer, examples, timed=False)

    def active_location(self, target: Target) -> tuple[str | None, str]:
        version = model_version_active(kind=self.kind)
        if version is not None:
            return version.path, version.name
        return None, "VADER lexicon"


# --- Dialogue --------------------------------------------------------------------------------


class DialogueRetrainer:
    """The shared dialogue model, fine-tuned (LoRA) from the base model on the pairs: operator
    replies first, then liked answers, then FAQ answers; every target is checked against its
    passage first (`intents.generation.data.grounded_targets`), so no example teaches inventing."""

    kind: str = ModelKind.DIALOGUE
    # The model's own text, before the grounding guard: the reply sent falls back to the FAQ answer
    # (the golden reference itself) whenever the guard rejects the text, so scoring the reply
    # would favour a model the guard has to overrule more often.
    rule: PromotionRule = PromotionRule(metric="raw_embedding_similarity", guards={"invented_entity_rate": 0.0})

    def targets(self, site: Site | None) -> list[Target]:
        return [Target(self.kind, site)]

    def golden(self, target: Target) -> list[dict[str, Any]]:
        def build() -> tuple[list[dict[str, Any]], str]:
            from chatbot.knowledge.models import FaqEntry

            entries = FaqEntry.objects.filter(is_active=True).order_by("site_id", "pk")
            if target.site is not None:
                entries = entries.filter(site=target.site)
            rows = [
                {
                    "question": entry.phrasings[-1],
                    "answer": entry.answer,
                    "passages": [{"question": entry.question, "answer": entry.answer}],
                }
                for entry in entries
                if len(entry.phrasings) > 1
            ]
            random.Random(29).shuffle(rows)
            where = f"site {target.site.key}" if target.site else "every site"
            return rows[: settings.CHATBOT_LEARNING_GOLDEN_DIALOGUE], f"FAQ entries of {where}: a paraphrase each"

        return golden_rows(kind=self.kind, scope=target.scope, build=build)

    def train(
        self, target: Target, pairs: Sequence[TrainingPair], golden: list[dict[str, Any]], out: Path, progress: Progress
    ) -> Candidate:
        from chatbot.knowledge.answering import embedder_get, faq_index_get
        from intents.generation import data
        from intents.generation.finetuning import FinetuneConfig, finetune
        from intents.generation.local import resolve_model_location
        from intents.types import FaqDocument

        held = golden_questions(golden)
        usable = [p for p in pairs if normalised(p.question) not in held]
        embedder = embedder_get()
        examples: list[data.DialogueExample] = []
        for site_key in sorted({p.site for p in usable if not p.passages}):
            site = Site.objects.filter(key=site_key).first()
            needing = [p for p in usable if not p.passages and p.site == site_key]
            if site is None or not needing:
                continue
            rows = [data.QA(p.question, p.answer) for p in needing]
            examples += [e for e in data.attach_passages(rows, faq_index_get(site=site), embedder) if e.passages]
        examples += [
            data.DialogueExample(
                p.question,
                tuple(FaqDocument(-i - 1, x.question, x.answer) for i, x in enumerate(p.passages)),
                p.answer,
            )
            for p in usable
            if p.passages
        ]
        grounded, counts = data.grounded_targets(examples)
        # Learned answers (operators', liked ones) first, then FAQ answers, shuffled within each.
        learned = {normalised(p.question) for p in usable if p.source != "faq"}
        first = [e for e in grounded if normalised(e.question) in learned]
        rest = [e for e in grounded if normalised(e.question) not in learned]
        random.Random(7).shuffle(rest)
        chosen = (first + rest)[: settings.CHATBOT_LEARNING_DIALOGUE_MAX_EXAMPLES]
        if not chosen:
            raise SkipTarget("no training pair is left once answers are checked against their passages")
        base = resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR)
        config = FinetuneConfig(
            epochs=settings.CHATBOT_LEARNING_DIALOGUE_EPOCHS, lora=True, device=settings.CHATBOT_LEARNING_DEVICE
        )
        finetune(chosen, base, out, config, progress=lambda step, total, _: progress(step, total))
        return Candidate(out, len(chosen), str(base), {"grounding_filter": counts, "learned_examples": len(first)})

    def evaluate(self, target: Target, location: str | None, golden: list[dict[str, Any]]) -> dict[str, Any]:
        from chatbot.dialogue.services import ALWAYS_ANSWER
        from chatbot.knowledge.answering import embedder_get
        from intents.generation.data import QA
        from intents.generation.evaluation import answer_all, metrics
        from intents.generation.local import LocalGenerator, resolve_model_location
        from intents.generation.prompting import PromptBuilder
        from intents.generation.responder import GeneratingResponder
        from intents.generation.types import GenerationSettings
        from intents.retrieval import FaqIndex, RetrievalResponder
        from intents.types import FaqDocument

        embedder = embedder_get()
        documents: dict[tuple[str, str], FaqDocument] = {}
        for row in golden:
            for passage in row["passages"]:
                key = (str(passage["question"]), str(passage["answer"]))
                documents.setdefault(key, FaqDocument(len(documents) + 1, *key))
        retrieval = RetrievalResponder(
            embedder=embedder, index=FaqIndex.build(list(documents.values()), embedder), policy=ALWAYS_ANSWER
        )
        if location is None:
            location = resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR)
        generator = LocalGenerator.load(location, device=settings.CHATBOT_LEARNING_DEVICE)
        responder = GeneratingResponder(
            retrieval=retrieval,
            generator=generator,
            prompts=PromptBuilder(),
            settings=GenerationSettings(max_new_tokens=settings.CHATBOT_LEARNING_EVAL_MAX_NEW_TOKENS),
            min_passage_similarity=settings.CHATBOT_GROUNDING_MIN_SIMILARITY,
        )
        rows = [QA(str(row["question"]), str(row["answer"])) for row in golden]
        return metrics(
            answer_all(rows, responder), embedder, min_passage_similarity=settings.CHATBOT_GROUNDING_MIN_SIMILARITY
        )

    def active_location(self, target: Target) -> tuple[str | None, str]:
        version = model_version_active(kind=self.kind)
        if version is not None:
            return version.path, version.name
        return None, f"base model ({settings.CHATBOT_DIALOGUE_MODEL})"


RETRAINERS: dict[str, Retrainer] = {
    ModelKind.INTENTS: IntentRetrainer(),
    ModelKind.SENTIMENT: SentimentRetrainer(),
    ModelKind.DIALOGUE: DialogueRetrainer(),
}
