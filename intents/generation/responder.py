"""The generating responder: the gate decides, the language model words the answer, the guard
keeps it to the facts of the cited FAQ entry.

Only an `answer` decision from the FAQ reaches the generator; clarify, handoff and intent replies
are the gate's fixed texts. The reply keeps its sources. When the generator fails, drifts away
from the passage, or invents a fact that cannot be dropped cleanly, the reply is the cited FAQ
answer itself and the stored reason says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from intents.embeddings import Embedder, Vectors
from intents.generation.grounding import InstructionShield, StreamGuard, guard_reply, passage_sources
from intents.generation.prompting import PromptBuilder
from intents.generation.types import ChatMessage, GenerationError, GenerationSettings, TextGenerator
from intents.generation.verifier import Passage, VerifiedStream, Verifier
from intents.redaction import redact
from intents.retrieval import RetrievalResponder
from intents.streaming import split_for_streaming
from intents.types import Answer, FaqDocument, Turn

logger = logging.getLogger(__name__)

_MIN_WORDS_TO_JUDGE = 8  # a reply's drift is judged once it has a sentence of at least this many words
# While streaming, only a clear drift stops the model: the start of a reply is naturally less like
# the passage than the whole, and the full check still runs at the end.
_EARLY_DRIFT_MARGIN = 0.15


@dataclass(frozen=True)
class Draft:
    answer: Answer  # what the customer gets
    raw_text: str  # what the model wrote, before the guard ("" when nothing was generated)
    generated: bool  # the reply is the model's (False: a fixed gate text or the FAQ answer)
    passage_similarity: float | None = None
    sources: tuple[str, ...] = ()  # the passages' texts the reply was checked against


@dataclass
class GeneratingResponder:
    retrieval: RetrievalResponder
    generator: TextGenerator
    prompts: PromptBuilder = field(default_factory=PromptBuilder)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    # A reply whose meaning is further than this from the passage (cosine of MiniLM embeddings)
    # is not trusted: the FAQ answer is sent instead. 0 turns the check off.
    min_passage_similarity: float = 0.5
    # With a verifier, every generated sentence is checked against the passage before it is shown
    # (`intents.generation.verifier`); without one, only the facts guard and the drift check apply.
    verifier: Verifier | None = None
    # Stop generating once this many sentences were dropped before any could be shown.
    max_dropped_before_shown: int = 2

    @property
    def embedder(self) -> Embedder:
        return self.retrieval.embedder

    def answer(self, history: Sequence[Turn]) -> Iterator[str | Answer]:
        for piece in self.draft(history):
            if isinstance(piece, Draft):
                yield piece.answer
                return
            yield piece

    def draft(self, history: Sequence[Turn]) -> Iterator[str | Draft]:
        """Like `answer`, but ends with the `Draft`: the reply plus what the model itself wrote
        before the guard (evaluation scores both)."""
        deliberation = self.retrieval.deliberate(history)
        base = deliberation.answer
        if not deliberation.passages:
            yield from split_for_streaming(base.text)
            yield Draft(base, raw_text="", generated=False)
            return

        passages = deliberation.passages
        sources = passage_sources(passages)
        source_vectors: Vectors | None = None  # embedded once, on the first drift check

        def similarity_to_passage(text: str) -> float:
            nonlocal source_vectors
            if source_vectors is None:
                source_vectors = self.embedder.encode(sources)
            return float(np.max(source_vectors @ self.embedder.encode([text])[0]))

        messages = self.prompts.messages(history, passages)
        # The company's name is in the instructions, and public: the reply may say it.
        shield = InstructionShield.of(self.prompts.instructions_text(), [*sources, self.prompts.company])
        if self.verifier is not None:
            yield from self._draft_verified(history, deliberation.answer, passages, messages, shield)
            return
        guard = StreamGuard(sources, shield=shield)
        started = time.perf_counter()
        first_token_ms: float | None = None
        failure = ""
        stream = self.generator.stream(messages, self.settings)
        checked_sentences = 0
        try:
            for delta in stream:
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                released = guard.feed(delta)
                # Stop as soon as the reply is sure to be replaced: the customer then gets the FAQ
                # answer at once instead of watching text that will be taken back.
                if guard.invented_number:
                    failure = "stopped early: unsupported number"
                    break
                if guard.repeated_instructions:
                    failure = "stopped early: reply repeated its instructions"
                    break
                if released:
                    yield released
                if self.min_passage_similarity > 0 and guard.sentences > checked_sentences:
                    checked_sentences = guard.sentences
                    so_far = similarity_to_passage(guard.text)
                    early_floor = self.min_passage_similarity - _EARLY_DRIFT_MARGIN
                    if len(guard.text.split()) >= _MIN_WORDS_TO_JUDGE and so_far < early_floor:
                        failure = f"stopped early: reply drifted from the passage (similarity {so_far:.2f})"
                        break
            else:
                tail = guard.finish()
                if guard.repeated_instructions:
                    failure = "reply repeated its instructions"
                elif tail:
                    yield tail
        except GenerationError as exc:
            # A backend's error can quote what it was generating, and so what the customer wrote.
            logger.warning("generation failed, answering with the FAQ entry: %s", redact(str(exc)))
            failure = "generator failed"
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # ends the model's generation (and releases its lock) when stopped early
        generation_ms = (time.perf_counter() - started) * 1000

        fallback = passages[0].answer
        checked = guard_reply(guard.text, sources, fallback)
        text, notes = checked.text, [checked.reason] if checked.reason else []
        generated = not checked.fell_back
        similarity: float | None = None
        if failure:
            text, notes, generated = fallback, [failure], False
        elif generated and self.min_passage_similarity > 0:
            similarity = similarity_to_passage(text)
            if similarity < self.min_passage_similarity:
                text, generated = fallback, False
                notes.append(f"reply drifted from the passage (similarity {similarity:.2f})")
        timings = dict(base.timings_ms)
        timings["generation"] = round(generation_ms, 1)
        if first_token_ms is not None:
            timings["generation_first_token"] = round(first_token_ms, 1)
        reason = base.reason + "".join(f"; {note}" for note in notes)
        answer = replace(
            base,
            text=text,
            model_version=f"{self.generator.name}+{base.model_version}" if generated else base.model_version,
            timings_ms=timings,
            reason=reason,
        )
        yield Draft(
            answer, raw_text=guard.text, generated=generated, passage_similarity=similarity, sources=tuple(sources)
        )

    def _draft_verified(
        self,
        history: Sequence[Turn],
        base: Answer,
        passages: Sequence[FaqDocument],
        messages: list[ChatMessage],
        shield: InstructionShield,
    ) -> Iterator[str | Draft]:
        """The reply sentence by sentence, each shown only once verified (see `VerifiedStream`)."""
        assert self.verifier is not None
        question = next((t.text for t in reversed(history) if t.sender == "customer"), "")
        cited = passages[0]
        passage = Passage(question, cited.question, cited.answer, known_words=[self.prompts.company])
        stream = VerifiedStream(self.verifier, passage, self.verifier.key_sentence(passage), leaks=shield.leaks)
        started = time.perf_counter()
        first_token_ms: float | None = None
        failure = ""
        pieces = self.generator.stream(messages, self.settings)
        try:
            for delta in pieces:
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                released = stream.feed(delta)
                if released:
                    yield from split_for_streaming(released)
                if stream.leaked:
                    failure = "stopped early: reply repeated its instructions"
                    break
                if not stream.carried and len(stream.dropped) >= self.max_dropped_before_shown:
                    failure = f"stopped early: {len(stream.dropped)} unsupported sentences"
                    break
            else:
                tail = stream.finish()
                if tail:
                    yield from split_for_streaming(tail)
        except GenerationError as exc:
            logger.warning("generation failed, answering with the FAQ entry: %s", redact(str(exc)))
            failure = "generator failed"
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        generation_ms = (time.perf_counter() - started) * 1000
        notes = [f"dropped: {why}" for _, why in stream.dropped]
        if stream.carried:
            text, generated = stream.released, True
            if failure:
                notes.append(failure)
        else:
            # Nothing was shown: the customer gets the FAQ answer (with its verified lead-in).
            text, generated = base.text, False
            notes.append(failure or "fell back to the FAQ answer: the reply did not carry the passage's key sentence")
            yield from split_for_streaming(text)
        timings = dict(base.timings_ms)
        timings["generation"] = round(generation_ms, 1)
        if first_token_ms is not None:
            timings["generation_first_token"] = round(first_token_ms, 1)
        answer = replace(
            base,
            text=text,
            model_version=f"{self.generator.name}+{base.model_version}" if generated else base.model_version,
            timings_ms=timings,
            reason=base.reason + "".join(f"; {note}" for note in notes),
        )
        yield Draft(answer, raw_text=stream.text, generated=generated, sources=tuple(passage_sources(passages)))
