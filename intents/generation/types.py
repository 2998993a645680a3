"""The interface between the responder and whatever produces text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

Role = Literal["system", "user", "assistant"]


class ChatMessage(TypedDict):
    """One message of a chat prompt, as chat templates and OpenAI-compatible servers take it."""

    role: Role
    content: str


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings shared by every backend. Greedy by default: a support answer should be
    the same each time it is asked."""

    max_new_tokens: int = 160
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.1


class GenerationError(RuntimeError):
    """The backend could not produce text (server down, bad response, model failure)."""


class TextGenerator(Protocol):
    """Streams the assistant's reply to a chat prompt as text deltas.

    `name` identifies the model (and version) in stored messages, e.g. "smollm2-135m-instruct" or
    "openai:Qwen2.5-7B-Instruct". Joined, the deltas are the whole reply;
    the iterator ends at the model's end of turn or at `max_new_tokens`.
    """

    name: str

    def stream(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Iterator[str]: ...
