"""The load-test stand-in responder (CHATBOT_RESPONDER=echo): a fixed reply, at once."""

from __future__ import annotations

from intents.echo import ECHO_MODEL_VERSION, ECHO_TEXT, EchoResponder
from intents.types import Answer, Responder, Turn


def pieces_of(responder: Responder, *texts: str) -> list[str | Answer]:
    return list(responder.answer([Turn(sender="customer", text=text) for text in texts]))


def test_the_stub_streams_a_few_tokens_then_one_confident_answer() -> None:
    *tokens, answer = pieces_of(EchoResponder(), "How much is postage?")
    assert 1 < len(tokens) <= 5 and all(isinstance(t, str) for t in tokens)
    assert isinstance(answer, Answer)
    assert "".join(str(t) for t in tokens) == answer.text == ECHO_TEXT
    assert answer.decision == "answer" and answer.confidence == 1.0
    assert answer.model_version == ECHO_MODEL_VERSION == "echo-stub"
    assert not answer.handoff and not answer.escalate and answer.sources == ()


def test_the_stub_never_quotes_what_the_customer_wrote() -> None:
    secret = "my card is 4111 1111 1111 1111, email jane@example.com"
    pieces = pieces_of(EchoResponder(), "hello", secret)
    answer = pieces[-1]
    assert isinstance(answer, Answer)
    assert answer.text == ECHO_TEXT
    assert not any(word in answer.text for word in ("4111", "jane", "hello"))


def test_the_stub_answers_the_same_whatever_the_history() -> None:
    assert pieces_of(EchoResponder()) == pieces_of(EchoResponder(), "a", "b", "c")
