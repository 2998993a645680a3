"""Fine-tuning, registering and evaluating dialogue models (the bodies of `manage.py dialogue`)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from chatbot.knowledge.models import FaqEntry
from chatbot.registry.models import ModelKind, ModelVersion
from chatbot.registry.selectors import model_version_active, model_versions_matching
from chatbot.registry.services import model_version_register
from chatbot.replies.faq_index import faq_index_get
from chatbot.replies.loading import embedder_get
from chatbot.sites.models import Site
from intents.gate import GatePolicy
from intents.generation import data
from intents.generation.evaluation import answer_all, metrics
from intents.generation.finetuning import FinetuneConfig, finetune
from intents.generation.local import LocalGenerator, resolve_model_location
from intents.generation.prompting import PromptBuilder
from intents.generation.responder import GeneratingResponder
from intents.generation.types import GenerationSettings
from intents.generation.verifier import Verifier
from intents.retrieval import FaqIndex, RetrievalResponder, Retriever

HELD_OUT_FRACTION = 0.1  # of a data file's questions, never trained on; `evaluate` scores them
ALWAYS_ANSWER = GatePolicy(answer_threshold=-1.0, clarify_margin=0.0)  # evaluation: every question answered


class DialogueError(ValueError):
    """A clear message for bad input (unknown site, model, format)."""


def _site(key: str | None) -> Site | None:
    if not key:
        return None
    site = Site.objects.filter(key=key).first()
    if site is None:
        raise DialogueError(f"No site with key {key!r}.")
    return site


def _rows(data_path: Path, data_format: str) -> tuple[list[data.QA], list[data.QA], list[data.QA]]:
    """Every row of the file, the training rows and the held-out rows."""
    try:
        rows = data.load_rows(data_path, data_format)
    except data.DialogueDataError as exc:
        raise DialogueError(str(exc)) from exc
    train_rows, held_out = data.split(rows, HELD_OUT_FRACTION)
    return rows, train_rows, held_out


def _examples_index(site: Site | None, train_rows: list[data.QA]) -> Retriever:
    """The FAQ the questions are matched against: the site's, or one built from the training rows."""
    embedder = embedder_get()
    if site is not None:
        return faq_index_get(site=site)
    if any(row.intent for row in train_rows):
        return FaqIndex.build(data.faq_from_rows(train_rows, embedder), embedder)
    if all(row.passages for row in train_rows):
        return FaqIndex.build([], embedder)  # every example brought its passages
    raise DialogueError("These examples have no passages and no intents: give --faq SITE to retrieve passages.")


def _file_examples(
    *, data_path: Path, data_format: str, site: Site | None, max_examples: int | None
) -> tuple[list[data.DialogueExample], dict[str, object]]:
    """Training examples from a data file, and the manifest that says how they were made."""
    _, train_rows, held_out = _rows(data_path, data_format)
    chosen = list(train_rows)
    random.Random(7).shuffle(chosen)
    if max_examples:
        chosen = chosen[: max_examples * 2]  # room for the examples the grounding filter leaves out
    index = _examples_index(site, train_rows)
    examples = [example for example in data.attach_passages(chosen, index, embedder_get()) if example.passages]
    examples, grounding = data.grounded_targets(examples)
    if max_examples:
        examples = examples[:max_examples]
    manifest = data.file_manifest(
        data_path,
        data_format,
        len(examples),
        {
            "held_out_fraction": HELD_OUT_FRACTION,
            "held_out_rows": len(held_out),
            "faq_site": site.key if site else "",
            "grounding_filter": grounding,
        },
    )
    return examples, manifest


def _faq_examples(*, site: Site, max_examples: int | None) -> tuple[list[data.DialogueExample], dict[str, object]]:
    """Training examples from the site's own active FAQ entries (`data.faq_examples`), checked by the
    verifier that serving uses, and the manifest that says how they were made."""
    entries = list(FaqEntry.objects.filter(site=site, is_active=True).order_by("pk"))
    built = data.faq_examples(
        [entry.as_document() for entry in entries], Verifier(embedder=embedder_get()), HELD_OUT_FRACTION
    )
    examples = list(built.train)
    if max_examples and len(examples) > max_examples:
        examples = random.Random(7).sample(examples, max_examples)
    digest = hashlib.sha256(
        json.dumps([[e.pk, e.question, e.alternatives, e.answer] for e in entries], ensure_ascii=False).encode()
    ).hexdigest()
    manifest: dict[str, object] = {
        "source": "faq",
        "faq_site": site.key,
        "faq_version": site.faq_version,
        "faq_entries": len(entries),
        "sha256": digest,  # of the entries trained on, as they were
        "examples": len(examples),
        "rows_used": len(examples),
        "held_out_fraction": HELD_OUT_FRACTION,
        "held_out": len(built.held_out),
        "verifier_kept": built.kept,
        "verifier_dropped": built.dropped,
        "verifier_reasons": built.dropped_reasons,
    }
    return examples, manifest


def dialogue_finetune(
    *,
    data_path: Path | None = None,
    data_format: str = "",
    faq_site: str | None = None,
    lora: bool = True,
    epochs: int = 1,
    max_examples: int | None = 400,
    out: Path | None = None,
    base: str | None = None,
    device: str = "cpu",
    resume: bool = False,
    activate: bool = False,
    learning_rate: float | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> ModelVersion:
    """Fine-tune the dialogue model and register the new version.

    With `data_path`, on the file's rows (passages from `faq_site` when given); without it, on the
    FAQ of `faq_site` itself: each alternative phrasing of an active entry, answered by a short
    verified reply drawn from the entry (`data.faq_examples`)."""
    site = _site(faq_site)
    if data_path is not None:
        examples, manifest = _file_examples(
            data_path=data_path, data_format=data_format, site=site, max_examples=max_examples
        )
        source = data_format
    elif site is not None:
        examples, manifest = _faq_examples(site=site, max_examples=max_examples)
        source = f"faq-{site.key}"
    else:
        raise DialogueError("Give --data FILE --format FORMAT, or --faq SITE to train on that site's FAQ.")
    if not examples:
        raise DialogueError("No training example is left once answers are checked against their passages.")
    base_location = base or resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"dialogue-{source}-{'lora' if lora else 'full'}-{stamp}"
    out = out or settings.CHATBOT_MODEL_DIR / name
    if resume and out.exists():
        name = out.name
    config = FinetuneConfig(epochs=epochs, lora=lora, device=device, resume=resume, learning_rate=learning_rate)
    prompts = PromptBuilder(company=site.name) if site else PromptBuilder()
    report = finetune(examples, base_location, out, config, prompts=prompts, progress=progress)
    return model_version_register(
        kind=ModelKind.DIALOGUE,
        name=name,
        path=out,
        base_model=str(base_location),
        manifest=manifest,
        metrics={"final_loss": round(report.final_loss, 4), "train_seconds": report.seconds, "steps": report.steps},
        activate=activate,
        notes=f"{'LoRA' if lora else 'full'} fine-tune, {epochs} epoch(s), {report.examples} examples on {device}",
    )


def _model_location(model: str) -> tuple[str, str]:
    """(location, label) for `base`, `active`, or a registered version's name or id."""
    if model == "base":
        return resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR), "base"
    if model == "active":
        version = model_version_active(kind=ModelKind.DIALOGUE)
        if version is None:
            raise DialogueError("No dialogue model is active; promote one or use --model base.")
        return version.path, version.name
    matches = model_versions_matching(name_or_id=model, kind=ModelKind.DIALOGUE)
    if len(matches) == 1:
        return matches[0].path, matches[0].name
    if Path(model).is_dir():
        return model, model
    raise DialogueError(f"No dialogue model version {model!r} (give base, active, retrieval, a version or a folder).")


def dialogue_evaluate(
    *,
    data_path: Path,
    data_format: str,
    model: str,
    faq_site: str | None = None,
    limit: int | None = None,
    all_rows: bool = False,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    site = _site(faq_site)
    rows, train_rows, held_out = _rows(data_path, data_format)
    scored_rows = rows if all_rows else held_out
    if limit:
        scored_rows = scored_rows[:limit]
    if not scored_rows:
        raise DialogueError("No questions to score (the held-out split is empty; try --all).")
    embedder = embedder_get()
    index = _examples_index(site, train_rows)
    retrieval = RetrievalResponder(embedder=embedder, index=index, policy=ALWAYS_ANSWER)
    floor = settings.CHATBOT_GROUNDING_MIN_SIMILARITY
    if model == "retrieval":
        results = answer_all(scored_rows, retrieval, progress=progress)
        label = "retrieval"
    else:
        location, label = _model_location(model)
        generator = LocalGenerator.load(location, name=label, device=device)
        responder = GeneratingResponder(
            retrieval=retrieval,
            generator=generator,
            prompts=PromptBuilder(company=site.name) if site else PromptBuilder(),
            settings=GenerationSettings(max_new_tokens=settings.CHATBOT_MAX_NEW_TOKENS),
            min_passage_similarity=floor,
        )

        def count(text: str) -> int:
            return len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])

        results = answer_all(scored_rows, responder, count_tokens=count, progress=progress)
    scores = metrics(results, embedder, min_passage_similarity=floor)
    return {
        "model": label,
        "data": str(data_path),
        "split": "all" if all_rows else f"held-out {HELD_OUT_FRACTION:.0%}",
        **scores,
        "settings": asdict(GenerationSettings(max_new_tokens=settings.CHATBOT_MAX_NEW_TOKENS)),
    }
