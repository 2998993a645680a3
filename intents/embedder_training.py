"""Fine-tuning a sentence encoder on one site's FAQ, so that customers' wordings land on the entry
that answers them.

The bundled MiniLM was trained on general web text: "my parcel hasn't shown up" and "Where is my
order?" are close for it, but so are many of a shop's entries to one another ("How do I return an
item?", "How long do I have to return an item?"). Each FAQ entry lists the other ways customers
ask it (its alternatives); training the encoder to place every alternative nearest its own entry's
question, against the other entries' questions in the same batch (in-batch negatives, the loss
sentence-transformers calls MultipleNegativesRankingLoss), teaches it the site's distinctions.

Only the entries' own phrasings are used, never the labelled questions the gate is tuned on, so the
gate's thresholds are fit on scores of questions the encoder has not seen.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from intents.embeddings import SentenceTransformerEmbedder, bundled_minilm_path
from intents.encoder_training import optimizer_step

Progress = Callable[[int, int, float], None]  # (step, total steps, loss)
TRAINING_FILE = "site_training.json"  # written beside the weights: what the folder was trained on


@dataclass(frozen=True)
class PhrasingGroup:
    """One FAQ entry's phrasings: its question first, then the other ways customers ask it."""

    question: str
    alternatives: tuple[str, ...]
    answer: str = ""


LARGE_VOCABULARY = 100_000  # tokens; see `EmbedderTrainingConfig.freeze_word_embeddings`


@dataclass
class EmbedderTrainingConfig:
    epochs: int = 5
    batch_size: int = 64  # at most one pair per entry in a batch, so no batch is larger than the FAQ
    learning_rate: float = 3e-5
    warmup_fraction: float = 0.1
    scale: float = 20.0  # cosine similarities are multiplied by this before the softmax
    max_length: int = 64
    seed: int = 13
    answer_pairs: bool = False  # also place each phrasing nearest its entry's answer
    # Off-topic messages per batch (when given), trained to stay below `null_similarity` to every
    # question. Off by default: on the English development split it answered no more questions right
    # and refused no more off-topic ones (86.7% and 94.3% correct and refused, against 86.7-88.2% and
    # 94.3% without, over two seeds).
    off_topic_per_batch: int = 0
    null_similarity: float = 0.5
    # Keep the token embeddings as they are and train the layers above them. None: only for a model
    # whose vocabulary exceeds LARGE_VOCABULARY tokens. A multilingual vocabulary (250,000 tokens in
    # multilingual-e5-small, 96M of its 118M weights) is most of the time a step takes, and training
    # moves only the tokens the FAQ uses. On the demo's Chinese FAQ: 230 s against 1,062 s for all
    # weights, with the right entry first for 96.8% of the development split against 98.4%.
    freeze_word_embeddings: bool | None = None
    device: str = "cpu"
    base_model: str | None = None  # a sentence-transformers folder or cached hub id; None: the bundled MiniLM


@dataclass(frozen=True)
class EmbedderTrainingReport:
    pairs: int
    entries: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    fingerprint: str


class EmbedderTrainingError(ValueError):
    pass


def training_pairs(groups: Sequence[PhrasingGroup], *, answers: bool = False) -> list[tuple[int, str, str]]:
    """(entry number, alternative, the entry's question) for every alternative of every entry; with
    `answers`, also (entry number, phrasing, the entry's answer) for its question and alternatives."""
    pairs = [
        (number, alternative, group.question)
        for number, group in enumerate(groups)
        for alternative in group.alternatives
        if alternative.strip() and alternative.strip() != group.question.strip()
    ]
    if answers:
        pairs += [
            (number, phrasing, group.answer)
            for number, group in enumerate(groups)
            if group.answer.strip()
            for phrasing in (group.question, *group.alternatives)
            if phrasing.strip()
        ]
    return pairs


def training_fingerprint(
    groups: Sequence[PhrasingGroup], config: EmbedderTrainingConfig, off_topic: Sequence[str] = ()
) -> str:
    """A digest of the phrasings, the off-topic messages and the settings: a folder trained on the
    same is not trained again."""
    settings = {k: v for k, v in asdict(config).items() if k != "device"}
    settings["base_model"] = base_model_identity(config.base_model)
    groups_data = [[g.question, g.answer, *g.alternatives] for g in groups]
    payload = json.dumps(
        {"groups": groups_data, "off_topic": _distinct_texts(off_topic), "config": settings},
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def base_model_identity(base_model: str | None) -> str | None:
    """The base model as the fingerprint knows it: a hub id as given, and a local folder by its name,
    its configuration and the sizes of its files, not by where it lies, so that a deployment moved or
    checked out elsewhere does not train its site encoders again."""
    if not base_model:
        return base_model
    folder = Path(base_model)
    if not folder.is_dir():
        return base_model
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        digest.update(f"{relative}:{path.stat().st_size}\n".encode())
        if path.suffix == ".json":
            digest.update(path.read_bytes())
    return f"{folder.name}:{digest.hexdigest()[:16]}"


def _distinct_texts(texts: Sequence[str]) -> list[str]:
    """The non-blank texts, each once, in their first order."""
    return [text for text in dict.fromkeys(texts) if text.strip()]


def trained_base_model(directory: Path) -> str | None:
    """The base model a site encoder folder was fine-tuned from, as its settings named it ("" for the
    bundled MiniLM), or None if the folder does not say."""
    try:
        base = json.loads((directory / TRAINING_FILE).read_text(encoding="utf-8"))["config"]["base_model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(base or "")


def trained_fingerprint(directory: Path) -> str | None:
    """The fingerprint a folder was trained with, or None if it holds no trained site encoder."""
    try:
        return str(json.loads((directory / TRAINING_FILE).read_text(encoding="utf-8"))["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _batches(pairs: Sequence[tuple[int, str, str]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Pair indexes in batches with at most one pair per entry: another pair of the same entry would
    be a false negative for the in-batch loss."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    open_batches: list[tuple[list[int], set[int]]] = []
    for index in order:
        entry = pairs[index][0]
        for batch, entries in open_batches:
            if entry not in entries and len(batch) < batch_size:
                batch.append(index)
                entries.add(entry)
                break
        else:
            open_batches.append(([index], {entry}))
        full = [b for b in open_batches if len(b[0]) >= batch_size]
        for b in full:
            batches.append(b[0])
            open_batches.remove(b)
    batches += [batch for batch, _ in open_batches if len(batch) > 1]
    rng.shuffle(batches)
    return batches


def embedder_fine_tune(
    groups: Sequence[PhrasingGroup],
    out_dir: Path,
    config: EmbedderTrainingConfig | None = None,
    *,
    off_topic: Sequence[str] = (),
    progress: Progress | None = None,
) -> EmbedderTrainingReport:
    """Fine-tune the base encoder on the entries' phrasings and save it (sentence-transformers
    format) to `out_dir`, with `site_training.json` naming what it was trained on."""
    import torch
    import torch.nn.functional as functional

    config = config or EmbedderTrainingConfig()
    outsiders = _distinct_texts(off_topic)
    pairs = training_pairs(groups, answers=config.answer_pairs)
    if len({number for number, _, _ in pairs}) < 2:
        raise EmbedderTrainingError("fine-tuning needs at least two entries with alternatives")
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    location = str(config.base_model) if config.base_model else str(bundled_minilm_path())
    model = SentenceTransformerEmbedder.load(config.base_model, device=config.device).model
    model.max_seq_length = config.max_length

    def embed(texts: list[str]) -> Any:
        features = {k: v.to(config.device) if hasattr(v, "to") else v for k, v in model.preprocess(texts).items()}
        return functional.normalize(model(features)["sentence_embedding"], dim=-1)

    epochs = [_batches(pairs, config.batch_size, rng) for _ in range(config.epochs)]
    total = sum(len(batches) for batches in epochs)
    trained = _trainable(model, config.freeze_word_embeddings)
    optimizer = torch.optim.AdamW(trained, lr=config.learning_rate)
    warmup = max(1, int(total * config.warmup_fraction))

    def rate(step: int) -> float:
        return step / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    model.train()
    losses: list[float] = []
    step = 0
    for batches in epochs:
        for batch in batches:
            anchors = embed([pairs[i][1] for i in batch])
            positives = embed([pairs[i][2] for i in batch])
            scores = anchors @ positives.T * config.scale
            labels = torch.arange(len(batch), device=scores.device)
            # Both ways: each alternative picks its question, each question its alternative.
            backward = functional.cross_entropy(scores.T, labels)
            if outsiders and config.off_topic_per_batch:
                # Open set: one more column, a fixed similarity, that off-topic messages must pick
                # and the alternatives must beat with their own question.
                sample = rng.sample(outsiders, min(config.off_topic_per_batch, len(outsiders)))
                rows = torch.cat([scores, embed(sample) @ positives.T * config.scale])
                rows = torch.cat([rows, torch.full((len(rows), 1), config.scale * config.null_similarity)], dim=1)
                targets = torch.cat([labels, torch.full((len(sample),), len(batch), device=scores.device)])
                forward = functional.cross_entropy(rows, targets)
            else:
                forward = functional.cross_entropy(scores, labels)
            loss = (forward + backward) / 2
            optimizer_step(loss, trained, optimizer, scheduler)
            step += 1
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step, total, losses[-1])
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    fingerprint = training_fingerprint(groups, config, outsiders)
    report = EmbedderTrainingReport(
        pairs=len(pairs),
        entries=len(groups),
        steps=step,
        seconds=round(time.perf_counter() - started, 1),
        first_loss=round(_mean(losses[: max(1, len(losses) // 10)]), 4),
        last_loss=round(_mean(losses[-max(1, len(losses) // 10) :]), 4),
        fingerprint=fingerprint,
    )
    meta = {"fingerprint": fingerprint, "base_model": location, "config": asdict(config), "report": asdict(report)}
    (out_dir / TRAINING_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def _trainable(model: Any, freeze_word_embeddings: bool | None) -> list[Any]:
    """The parameters to train: all of them, or all but the token embeddings (see the config)."""
    embeddings = [p for name, p in model.named_parameters() if name.endswith("word_embeddings.weight")]
    vocabulary = max((int(p.shape[0]) for p in embeddings), default=0)
    freeze = vocabulary > LARGE_VOCABULARY if freeze_word_embeddings is None else freeze_word_embeddings
    for parameter in embeddings:
        parameter.requires_grad_(not freeze)
    return [parameter for parameter in model.parameters() if parameter.requires_grad]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan
