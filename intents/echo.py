"""A stand-in responder for load tests: answers at once with a fixed text, no model.

`CHATBOT_RESPONDER=echo` puts it behind the reply task, so a benchmark measures the serving path
(websocket, database, Celery, channel layer) rather than the answering models. It never quotes the
customer: its replies carry nothing of what was written, whatever the history holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from intents.types import Answer, Turn

# A few tokens, like a streaming model's deltas; joined they are the reply.
ECHO_TOKENS = ("Thanks for your message. ", "This is an ", "automated test reply.")
ECHO_TEXT = "".join(ECHO_TOKENS)
ECHO_MODEL_VERSION = "echo-stub"


class EchoResponder:
    """The `Responder` interface with nothing behind it: the fixed reply in a few tokens, then
    an `answer` decision with full confidence and no sources."""

    def answer(self, history: Sequence[Turn]) -> Iterator[str | Answer]:
        yield from ECHO_TOKENS
        yield Answer(
            text=ECHO_TEXT,
            intent=None,
            confidence=1.0,
            model_version=ECHO_MODEL_VERSION,
            decision="answer",
            reason="stub responder (CHATBOT_RESPONDER=echo)",
        )
