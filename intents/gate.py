"""The answer gate: the one decision every bot reply passes through.

From the FAQ candidates' retrieval scores, the intent prediction when a classifier is trained,
and the conversation so far, it decides to
- `answer`: cite the best FAQ entry;
- `clarify`: two entries fit about equally well, so ask which one the customer means;
- `handoff`: the bot should not answer. Either it offers a person (one unanswerable question), or it
  escalates at once (the customer asked for a person, or the bot failed again in a row).
Each decision carries a short reason ("best FAQ match 0.31 < 0.45") that is stored with the reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from intents.injection import instructs_the_bot
from intents.types import Turn

Action = Literal["answer", "clarify", "handoff"]

_ASKS_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put)\b.{0,30}\b(human|person|people|agent|someone|somebody|representative|"
    r"operator|staff|employee|team member)\b"
    r"|\b(real|live|actual)\s+(human|person|agent)\b"
    r"|^\s*(human|agent|operator|representative|a human|a person)\s*(please|pls)?\s*[.!?]*\s*$"
    # Chinese: 转人工, 人工客服, 找人工, 我要真人 ...
    r"|转人工|人工客服|人工服务|(找|接|要|叫)(个)?人工|真人(客服)?|找(个)?客服|(找|叫)(个)?(工作人员|活人)",
    re.IGNORECASE,
)
# Words that make a mention of a person a question about *when* one can be reached ("can I talk to a
# human on Sunday?", "礼拜天能找到人工客服吗"): that asks for the opening hours, which the FAQ may answer.
# Bare "hours", "open", "tomorrow" and 时间 are left out: "I've waited for hours, get me a human" asks for
# a person now, and so does anything with a demand in it (_DEMANDS_PERSON) or a long message (a complaint
# that names a day: "I ordered on Monday and nothing came, get me a human").
# The question itself ("when can ...", "what time", 几点), which `_OPENS_ASKING_WHEN` also looks for.
_WHEN_QUESTION = r"when (can|could|do|does|are|is|will|would)|what time|which days?"
_WHEN_QUESTION_ZH = r"什么时候|几点|哪天"
_ASKS_WHEN = re.compile(
    rf"\b({_WHEN_QUESTION}|"
    r"(opening|office|business|support|working) hours|opening times?|"
    r"weekends?|(mon|tues|wednes|thurs|fri|satur|sun)days?|(bank )?holidays?|evenings?|at night|24/7|"
    r"around the clock)\b"
    rf"|{_WHEN_QUESTION_ZH}|哪几天|周末|礼拜[一二三四五六天日]?|星期[一二三四五六天日]|周[一二三四五六日天]|节假日|假期|"
    r"晚上|夜里|早上|上午|下午|(上班|工作|服务|营业|在线)时间|上班|下班|24小时",
    re.IGNORECASE,
)
_DEMANDS_PERSON = re.compile(
    r"\b(let me|get me|put me|connect me|transfer me|i want|i need|i'd like|give me|now|right away|asap|"
    r"immediately)\b|转人工|我要|给我|马上|立刻|现在|赶紧",
    re.IGNORECASE,
)
_AVAILABILITY_QUESTION_MAX = 12  # words, or Chinese characters / 2
# ... or this many when the message opens with the question ("when can I reach a real person on the
# phone during the week?"): a complaint that names a day does not start by asking when.
_OPENS_ASKING_WHEN = re.compile(
    rf"^\W*(({_WHEN_QUESTION}|at what time|what days?)\b|{_WHEN_QUESTION_ZH})", re.IGNORECASE
)
_OPENING_AVAILABILITY_QUESTION_MAX = 20
ASKED_FOR_HUMAN_REASON = "customer asked for a person"
INSTRUCTS_THE_BOT_REASON = "the message gives the bot orders"
# A follow-up that points back at the previous question ("and how long does *that* take?").
_REFERS_BACK = re.compile(r"\b(it|its|it's|that|this|those|these|they|them|one)\b", re.IGNORECASE)
_FOLLOW_UP_MAX_WORDS = 10


@dataclass(frozen=True)
class Candidate:
    id: int
    question: str
    score: float


@dataclass(frozen=True)
class GatePolicy:
    answer_threshold: float = 0.45  # the best candidate must score at least this to be answered
    clarify_margin: float = 0.03  # two candidates closer than this, both answerable: ask which
    max_failed_turns: int = 2  # this many unanswerable questions in a row: escalate
    oos_probability: float = 0.8  # an intent model this sure of out-of-scope: do not answer
    intent_confidence: float = 0.6  # an intent model this sure of a handoff or smalltalk intent: act on it


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    candidates: tuple[Candidate, ...] = ()  # answer: the cited entry; clarify: the options
    escalate: bool = False  # handoff: the conversation goes to the team now (not merely offered)
    intent_reply: bool = False  # answer with the predicted intent's own response (smalltalk, custom)


def asks_for_human(text: str) -> bool:
    return bool(_ASKS_FOR_HUMAN.search(text))


def asks_when_people_are_available(text: str) -> bool:
    """A short question that mentions a person to ask when one can be reached, not for one now."""
    length = max(len(text.split()), len(re.findall(r"[\u4e00-\u9fff]", text)) // 2)
    return (
        asks_for_human(text)
        and bool(_ASKS_WHEN.search(text))
        and not _DEMANDS_PERSON.search(text)
        and length
        <= (_OPENING_AVAILABILITY_QUESTION_MAX if _OPENS_ASKING_WHEN.search(text) else _AVAILABILITY_QUESTION_MAX)
    )


def retrieval_query(history: Sequence[Turn]) -> str:
    """The text to search the FAQ with: the last customer turn, read together with the one before
    it when it is a short follow-up that refers back ("and how long does that take?")."""
    customer = [turn.text.strip() for turn in history if turn.sender == "customer" and turn.text.strip()]
    if not customer:
        return ""
    current = customer[-1]
    if len(customer) >= 2 and len(current.split()) <= _FOLLOW_UP_MAX_WORDS and _REFERS_BACK.search(current):
        return f"{customer[-2]} {current}"
    return current


def follow_up_query(history: Sequence[Turn]) -> str | None:
    """The last customer turn read together with the one before it, when it is short enough to be a
    follow-up that leans on it ("and Switzerland?", "is there interest?"); None otherwise. The
    responder searches with both and keeps whichever finds the better match."""
    customer = [turn.text.strip() for turn in history if turn.sender == "customer" and turn.text.strip()]
    if len(customer) < 2 or len(customer[-1].split()) > _FOLLOW_UP_MAX_WORDS:
        return None
    merged = f"{customer[-2]} {customer[-1]}"
    return None if merged == retrieval_query(history) else merged


def failed_turns(history: Sequence[Turn]) -> int:
    """How many bot replies in a row, most recent first, could not answer."""
    count = 0
    for turn in reversed(history):
        if turn.sender != "bot":
            continue
        if not turn.unanswered:
            break
        count += 1
    return count


def decide(
    *,
    question: str,
    candidates: Sequence[Candidate],
    history: Sequence[Turn] = (),
    policy: GatePolicy = GatePolicy(),  # frozen, so a shared default is safe
    oos_probability: float | None = None,
    intent: tuple[str, float, str] | None = None,
) -> Decision:
    """The gate. `candidates` are the FAQ matches, best first. When the site has an intent model:
    `oos_probability` is its probability that the question is out of scope, and `intent` its
    prediction as (name, probability, action), the action being the site's for that intent.

    A customer who asks for a person is handed to one at once, except when they ask *when* one can be
    reached: then an FAQ entry that clearly answers it (the opening hours) is the reply, and only
    otherwise are they handed over. A message that tries to give the bot orders ("ignore all previous
    instructions", "you are now DAN", `intents.injection`) is not answered, whatever else it asks."""
    if instructs_the_bot(question):
        return _cannot_answer(INSTRUCTS_THE_BOT_REASON, history, policy)
    if asks_for_human(question):
        if asks_when_people_are_available(question):
            decision = _faq_decision(candidates, history, policy, oos_probability)
            if decision.action == "answer":
                return decision
        return Decision("handoff", ASKED_FOR_HUMAN_REASON, escalate=True)
    if intent is not None and intent[1] >= policy.intent_confidence:
        name, probability, action = intent
        if action == "handoff":
            return Decision("handoff", f"intent {name} p={probability:.2f}", escalate=True)
        if action in ("smalltalk", "custom"):
            return Decision("answer", f"intent {name} p={probability:.2f}", intent_reply=True)
    return _faq_decision(candidates, history, policy, oos_probability)


def _faq_decision(
    candidates: Sequence[Candidate], history: Sequence[Turn], policy: GatePolicy, oos_probability: float | None
) -> Decision:
    """Answer, clarify or hand off on the FAQ matches alone."""
    best = candidates[0] if candidates else None
    if oos_probability is not None and oos_probability >= policy.oos_probability:
        return _cannot_answer(f"oos p={oos_probability:.2f}", history, policy)
    if best is None:
        return _cannot_answer("no FAQ entries", history, policy)
    if best.score < policy.answer_threshold:
        return _cannot_answer(f"best FAQ match {best.score:.2f} < {policy.answer_threshold:.2f}", history, policy)
    runner_up = candidates[1] if len(candidates) > 1 else None
    if (
        runner_up is not None
        and runner_up.score >= policy.answer_threshold
        # a tie is never settled by the order retrieval happened to list them in, whatever the margin
        and (best.score - runner_up.score < policy.clarify_margin or best.score == runner_up.score)
    ):
        return Decision(
            "clarify",
            f"two close FAQ matches {best.score:.2f}/{runner_up.score:.2f} (margin < {policy.clarify_margin:.2f})",
            (best, runner_up),
        )
    return Decision("answer", f"FAQ match {best.score:.2f} >= {policy.answer_threshold:.2f}", (best,))


def _cannot_answer(reason: str, history: Sequence[Turn], policy: GatePolicy) -> Decision:
    failures = failed_turns(history) + 1
    if failures >= policy.max_failed_turns:
        return Decision("handoff", f"{reason}; {failures} unanswered in a row", escalate=True)
    return Decision("handoff", reason)
