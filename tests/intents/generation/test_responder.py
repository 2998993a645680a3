"""`GeneratingResponder`: the real gate and retrieval (over a hashing embedder) with a scripted
generator; and `PromptBuilder`, the prompt the generator sees."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from intents.generation.prompting import PromptBuilder
from intents.generation.responder import Draft, GeneratingResponder
from intents.generation.types import ChatMessage, GenerationError, GenerationSettings
from intents.retrieval import ASKED_FOR_HUMAN_TEXT, CLARIFY_TEXT, NOT_SURE_TEXT, RetrievalResponder
from intents.types import Answer, FaqDocument, Turn
from tests.intents.generation.conftest import ScriptedGenerator, words_of

RETURNS_QUESTION = [Turn("customer", "How long do I have to return an item?")]


def _run(responder: GeneratingResponder, history: Sequence[Turn]) -> tuple[list[str], Answer]:
    pieces = list(responder.answer(history))
    final = pieces[-1]
    assert isinstance(final, Answer)
    streamed = pieces[:-1]
    assert all(isinstance(piece, str) and piece for piece in streamed)
    return [str(piece) for piece in streamed], final


def _responder(
    retrieval: RetrievalResponder, reply: str, *, min_passage_similarity: float = 0.5
) -> tuple[GeneratingResponder, ScriptedGenerator]:
    generator = ScriptedGenerator(words_of(reply))
    return GeneratingResponder(retrieval, generator, min_passage_similarity=min_passage_similarity), generator


def test_an_answer_streams_the_generated_reply_and_cites_the_faq_entry(
    retrieval: RetrievalResponder, shop_faq: Sequence[FaqDocument]
) -> None:
    reply = "You can return any item within 30 days of delivery. Start your return at https://lumenloom.shop/returns."
    responder, generator = _responder(retrieval, reply)

    streamed, final = _run(responder, RETURNS_QUESTION)

    assert "".join(streamed) == reply
    assert final.text == reply
    assert final.decision == "answer"
    assert [source.id for source in final.sources] == [1]
    assert final.model_version.startswith("scripted-llm+")
    assert "generation" in final.timings_ms and "generation_first_token" in final.timings_ms
    [messages] = generator.calls
    assert messages[0]["role"] == "system" and shop_faq[0].answer in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": RETURNS_QUESTION[0].text}


def test_the_draft_keeps_what_the_model_wrote_before_the_guard(retrieval: RetrievalResponder) -> None:
    reply = "You can return any item within 30 days of delivery. Start your return at https://lumenloom.shop/returns."
    responder, _ = _responder(retrieval, reply)
    draft = list(responder.draft(RETURNS_QUESTION))[-1]
    assert isinstance(draft, Draft)
    assert (draft.raw_text, draft.generated) == (reply, True)
    assert draft.passage_similarity is not None and draft.passage_similarity >= 0.5


@pytest.mark.parametrize(
    ("question", "decision", "text"),
    [
        ("shared topic", "clarify", CLARIFY_TEXT),  # matches two entries equally well
        ("what is the weather like on mars", "handoff", NOT_SURE_TEXT),
        ("I want to talk to a human", "handoff", ASKED_FOR_HUMAN_TEXT),
    ],
)
def test_clarify_and_handoff_decisions_never_reach_the_generator(
    retrieval: RetrievalResponder, question: str, decision: str, text: str
) -> None:
    responder, generator = _responder(retrieval, "You can return any item within 30 days of delivery.")
    streamed, final = _run(responder, [Turn("customer", question)])
    assert generator.calls == []
    assert (final.decision, final.text, "".join(streamed)) == (decision, text, text)
    assert not final.model_version.startswith("scripted-llm")


def test_a_generator_that_fails_midway_gives_the_faq_answer(
    retrieval: RetrievalResponder, shop_faq: Sequence[FaqDocument]
) -> None:
    generator = ScriptedGenerator(["You can ", "return any ", "item "], fail_with=GenerationError("server went away"))
    responder = GeneratingResponder(retrieval, generator)
    _, final = _run(responder, RETURNS_QUESTION)
    assert final.text == shop_faq[0].answer
    assert "generator failed" in final.reason
    assert [source.id for source in final.sources] == [1]
    assert not final.model_version.startswith("scripted-llm")


def test_an_invented_phone_number_never_reaches_the_widget(retrieval: RetrievalResponder) -> None:
    kept = "You can return any item within 30 days of delivery, and we refund you within 5 working days."
    responder, _ = _responder(retrieval, f"{kept} Or call +44 20 7946 0958.")
    streamed, final = _run(responder, RETURNS_QUESTION)
    for text in [*streamed, "".join(streamed), final.text]:
        assert "7946" not in text and "0958" not in text and "+44" not in text
    assert final.text == kept
    assert "dropped: unsupported phone" in final.reason
    assert final.model_version.startswith("scripted-llm+")


def test_an_invented_deadline_falls_back_to_the_faq_answer(
    retrieval: RetrievalResponder, shop_faq: Sequence[FaqDocument]
) -> None:
    responder, _ = _responder(retrieval, "You can return any item within 45 days of delivery.")
    streamed, final = _run(responder, RETURNS_QUESTION)
    assert "45" not in "".join(streamed)
    assert final.text == shop_faq[0].answer
    assert "number" in final.reason
    assert not final.model_version.startswith("scripted-llm")


PARAPHRASE = "You can return any item within 30 days of delivery, and we refund you within 5 working days."


def test_a_reply_that_drifts_from_the_passage_falls_back(
    retrieval: RetrievalResponder, shop_faq: Sequence[FaqDocument]
) -> None:
    responder, _ = _responder(retrieval, PARAPHRASE, min_passage_similarity=0.99)
    draft = list(responder.draft(RETURNS_QUESTION))[-1]
    assert isinstance(draft, Draft)
    assert draft.answer.text == shop_faq[0].answer
    assert "drifted" in draft.answer.reason
    assert not draft.generated and draft.passage_similarity is not None and draft.passage_similarity < 0.99


def test_with_the_drift_check_off_a_paraphrase_is_kept(retrieval: RetrievalResponder) -> None:
    responder, _ = _responder(retrieval, PARAPHRASE, min_passage_similarity=0)
    draft = list(responder.draft(RETURNS_QUESTION))[-1]
    assert isinstance(draft, Draft)
    assert (draft.answer.text, draft.generated, draft.passage_similarity) == (PARAPHRASE, True, None)
    assert "drifted" not in draft.answer.reason


# PromptBuilder

PASSAGE = FaqDocument(7, "  How much is shipping?  ", "Shipping costs 4.95 EUR.  ")


def test_the_system_message_holds_the_instructions_and_the_passage() -> None:
    system = PromptBuilder(company="Lumen & Loom").system_message([PASSAGE])
    assert "customer service assistant of Lumen & Loom" in system
    assert system.endswith("FAQ passage:\nQ: How much is shipping?\nA: Shipping costs 4.95 EUR.")


def test_the_prompt_alternates_roles_with_operators_as_the_assistant() -> None:
    history = [
        Turn("bot", "Hi! How can I help?"),
        Turn("customer", "Hello"),
        Turn("customer", "how much is shipping?"),
        Turn("system", "An operator joined the chat."),
        Turn("operator", "Hi, I'm Sam."),
        Turn("bot", "   "),
        Turn("customer", "And to Canada?"),
        Turn("bot", "Let me check."),
    ]
    messages = PromptBuilder().messages(history, [PASSAGE])
    assert messages[0]["role"] == "system"
    assert messages[1:] == [
        {"role": "user", "content": "Hello\nhow much is shipping?"},
        {"role": "assistant", "content": "Hi, I'm Sam."},
        {"role": "user", "content": "And to Canada?"},
    ]


def test_the_prompt_keeps_only_the_last_turns_and_cuts_long_messages() -> None:
    history = [Turn("customer" if i % 2 == 0 else "bot", f"turn {i}") for i in range(9)]
    history[-1] = Turn("customer", "x" * 1000)
    messages = PromptBuilder(history_turns=1, max_turn_chars=50).messages(history, [PASSAGE])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in messages[1:]] == ["turn 6", "turn 7", "x" * 50]


def test_a_history_of_only_the_last_question_gives_system_then_user() -> None:
    messages = PromptBuilder(history_turns=0).messages(RETURNS_QUESTION, [PASSAGE])
    assert [m["role"] for m in messages] == ["system", "user"]


class CountingGenerator(ScriptedGenerator):
    """Counts the deltas the responder actually took, and whether it closed the stream."""

    taken: int = 0
    closed: bool = False

    def stream(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Iterator[str]:
        try:
            for delta in super().stream(messages, settings):
                self.taken += 1
                yield delta
        finally:
            self.closed = True


LONG_TAIL = " Our team checks every parcel with care and we hope you enjoy shopping with us again soon." * 3


def test_an_invented_number_stops_the_model_at_once_and_sends_the_faq_answer(
    retrieval: RetrievalResponder, shop_faq: Sequence[FaqDocument]
) -> None:
    generator = CountingGenerator(words_of("You can return any item within 45 days of delivery." + LONG_TAIL))
    streamed, final = _run(GeneratingResponder(retrieval, generator, min_passage_similarity=0.0), RETURNS_QUESTION)
    assert generator.taken < len(generator.deltas) / 2 and generator.closed
    assert "45" not in "".join(streamed)
    assert final.text == shop_faq[0].answer
    assert "stopped early: unsupported number" in final.reason


def test_a_first_sentence_that_drifts_stops_the_model_before_the_rest_is_shown(
    retrieval: RetrievalResponder, shop_faq: Sequence[FaqDocument]
) -> None:
    reply = "We sell oak tables, linen sheets and handmade lamps in many colours." + LONG_TAIL
    generator = CountingGenerator(words_of(reply))
    streamed, final = _run(GeneratingResponder(retrieval, generator, min_passage_similarity=0.99), RETURNS_QUESTION)
    assert generator.taken < len(generator.deltas) / 2 and generator.closed
    assert "enjoy shopping" not in "".join(streamed)
    assert final.text == shop_faq[0].answer
    assert "stopped early: reply drifted" in final.reason
