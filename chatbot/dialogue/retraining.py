"""Retraining the shared dialogue model (settings.CHATBOT_RETRAINERS["dialogue"])."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from django.conf import settings

from chatbot.dialogue.services import ALWAYS_ANSWER
from chatbot.knowledge.models import FaqEntry
from chatbot.registry.models import ModelKind
from chatbot.registry.retraining import Candidate, Progress, SkipTarget, Target, TrainingData
from chatbot.registry.selectors import model_version_active
from chatbot.replies.faq_index import faq_index_get
from chatbot.replies.loading import embedder_get
from chatbot.sites.models import Site
from intents.generation.data import QA, DialogueExample, attach_passages, grounded_targets
from intents.generation.evaluation import answer_all, metrics
from intents.generation.finetuning import FinetuneConfig, finetune
from intents.generation.local import LocalGenerator, resolve_model_location
from intents.generation.prompting import PromptBuilder
from intents.generation.responder import GeneratingResponder
from intents.generation.types import GenerationSettings
from intents.learning import PromotionRule, normalised
from intents.retrieval import FaqIndex, RetrievalResponder
from intents.types import FaqDocument


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

    def golden_build(self, target: Target) -> tuple[list[dict[str, Any]], str]:
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

    def train(self, target: Target, data: TrainingData, out: Path, progress: Progress) -> Candidate:
        held = data.golden_questions()
        usable = [p for p in data.pairs if normalised(p.question) not in held]
        embedder = embedder_get()
        examples: list[DialogueExample] = []
        for site_key in sorted({p.site for p in usable if not p.passages}):
            site = Site.objects.filter(key=site_key).first()
            needing = [p for p in usable if not p.passages and p.site == site_key]
            if site is None or not needing:
                continue
            rows = [QA(p.question, p.answer) for p in needing]
            examples += [e for e in attach_passages(rows, faq_index_get(site=site), embedder) if e.passages]
        examples += [
            DialogueExample(
                p.question,
                tuple(FaqDocument(-i - 1, x.question, x.answer) for i, x in enumerate(p.passages)),
                p.answer,
            )
            for p in usable
            if p.passages
        ]
        grounded, counts = grounded_targets(examples)
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
