"""The grounded prompt: short instructions and the FAQ passages in the system message (the part
that is the same whenever an entry is cited, so its KV cache is reused), then the last turns of
the conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from intents.generation.types import ChatMessage, Role
from intents.types import FaqDocument, Turn

INSTRUCTIONS = (
    "You are the customer service assistant of {company}. Answer the customer's last message using only "
    "the FAQ passage below. Be brief and friendly. Never make up links, e-mail addresses, phone numbers, "
    "order numbers, prices or deadlines."
)


@dataclass(frozen=True)
class PromptBuilder:
    company: str = "our shop"
    history_turns: int = 4  # earlier turns the model sees, besides the customer's last message
    max_turn_chars: int = 600  # a long paste is cut, so one message cannot crowd out the passage
    instructions: str = INSTRUCTIONS  # `{company}` is filled in

    def instructions_text(self) -> str:
        """The instructions as the model sees them: the part of the system message that is not the
        FAQ passage, which the grounding guard keeps out of replies."""
        return self.instructions.format(company=self.company)

    def system_message(self, passages: Sequence[FaqDocument]) -> str:
        blocks = [f"Q: {p.question.strip()}\nA: {p.answer.strip()}" for p in passages]
        return self.instructions_text() + "\n\nFAQ passage:\n" + "\n\n".join(blocks)

    def messages(self, history: Sequence[Turn], passages: Sequence[FaqDocument]) -> list[ChatMessage]:
        """System message with the passages, then the conversation ending with the customer's turn.

        Operators count as the assistant side; system notices are left out. Consecutive turns of
        one side are joined, as chat templates expect alternating roles."""
        turns: list[ChatMessage] = []
        for turn in history:
            if turn.sender == "system" or not turn.text.strip():
                continue
            role: Role = "user" if turn.sender == "customer" else "assistant"
            text = turn.text.strip()[: self.max_turn_chars]
            if turns and turns[-1]["role"] == role:
                turns[-1] = {"role": role, "content": turns[-1]["content"] + "\n" + text}
            else:
                turns.append({"role": role, "content": text})
        while turns and turns[-1]["role"] != "user":
            turns.pop()
        turns = turns[-(2 * self.history_turns + 1) :]
        while turns and turns[0]["role"] != "user":
            turns.pop(0)
        return [{"role": "system", "content": self.system_message(passages)}, *turns]
