"""The answer gate's decisions, as behaviours."""

from __future__ import annotations

import pytest

from intents.gate import Candidate, GatePolicy, asks_for_human, decide, failed_turns, retrieval_query
from intents.types import Turn

POLICY = GatePolicy(answer_threshold=0.45, clarify_margin=0.03, max_failed_turns=2)
DELIVERY = Candidate(1, "How long does delivery take?", 0.82)
RETURNS = Candidate(2, "How do I return an item?", 0.52)


def test_a_clear_best_match_is_answered_and_cited() -> None:
    decision = decide(question="when will my parcel come", candidates=[DELIVERY, RETURNS], policy=POLICY)
    assert decision.action == "answer"
    assert decision.candidates == (DELIVERY,)
    assert decision.reason == "FAQ match 0.82 >= 0.45"


def test_out_of_scope_question_is_handed_to_a_human() -> None:
    decision = decide(question="who won the world cup?", candidates=[Candidate(1, "x", 0.31)], policy=POLICY)
    assert decision.action == "handoff"
    assert not decision.escalate  # one question: a person is offered, not forced
    assert decision.reason == "best FAQ match 0.31 < 0.45"


def test_an_intent_model_sure_of_out_of_scope_overrules_a_passable_faq_match() -> None:
    decision = decide(question="tell me a joke", candidates=[DELIVERY], policy=POLICY, oos_probability=0.9)
    assert decision.action == "handoff"
    assert decision.reason == "oos p=0.90"


def test_two_close_faq_entries_ask_a_clarifying_question() -> None:
    close = Candidate(3, "How do I reset my PIN?", 0.80)
    decision = decide(question="how do I reset it", candidates=[DELIVERY, close], policy=POLICY)
    assert decision.action == "clarify"
    assert decision.candidates == (DELIVERY, close)
    assert "0.82/0.80" in decision.reason


def test_two_entries_tied_get_a_clarifying_question_even_with_no_margin() -> None:
    tied = [Candidate(1, "a", 0.9), Candidate(2, "b", 0.9)]
    assert decide(question="q", candidates=tied, policy=GatePolicy(0.45, 0.0)).action == "clarify"
    assert decide(question="q", candidates=[tied[0], Candidate(2, "b", 0.89)], policy=GatePolicy(0.45, 0.0)).action == (
        "answer"
    )


def test_a_close_runner_up_below_the_threshold_does_not_trigger_a_question() -> None:
    weak = [Candidate(1, "a", 0.46), Candidate(2, "b", 0.44)]
    assert decide(question="q", candidates=weak, policy=POLICY).action == "answer"


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak with someone please",
        "human",
        "Agent!",
        "connect me to a real person",
        "我要转人工",
        "人工客服在吗？",
        "能不能找个真人",
        "帮我找客服",
    ],
)
def test_asking_for_a_person_escalates_at_once(text: str) -> None:
    decision = decide(question=text, candidates=[DELIVERY], policy=POLICY)
    assert asks_for_human(text)
    assert (decision.action, decision.escalate) == ("handoff", True)


@pytest.mark.parametrize(
    "text",
    [
        "can someone tell me the delivery time?",
        "how do humans wash linen",
        "I talked to my wife",
        "这是人工编织的吗？",
        "真皮沙发怎么保养",
        "客服邮箱是多少",
    ],
)
def test_mentioning_people_is_not_asking_for_one(text: str) -> None:
    assert not asks_for_human(text)


HOURS = Candidate(4, "What are your customer service opening hours?", 0.71)


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a human on Sunday?",
        "when can I speak to a real person?",
        "when can I reach a real person on the phone during the week?",
        "what time can I chat with an agent tomorrow?",
        "礼拜天能找到人工客服吗",
        "人工客服几点上班",
        "周末有人工服务吗",
    ],
)
def test_asking_when_a_person_can_be_reached_is_answered_from_the_faq(text: str) -> None:
    decision = decide(question=text, candidates=[HOURS, RETURNS], policy=POLICY)
    assert (decision.action, decision.candidates) == ("answer", (HOURS,))


def test_asking_when_a_person_can_be_reached_escalates_when_the_faq_cannot_answer_it() -> None:
    decision = decide(question="can I talk to a human on Sunday?", candidates=[Candidate(4, "x", 0.2)], policy=POLICY)
    assert (decision.action, decision.escalate, decision.reason) == ("handoff", True, "customer asked for a person")


@pytest.mark.parametrize(
    "text",
    [
        "I've waited for hours, let me talk to a human",
        "talk to a person now please",
        "when I try to pay it fails, let me talk to a human",
        "I ordered on Monday and it still has not come and I am fed up, get me a real person",
        "connect me to a real person to open a complaint",
        "when I try to pay with my card it fails every single time, can I talk to a human?",
        "I ordered a sofa on Monday and I have been waiting all week, can I talk to a human?",
        "浪费我时间，转人工",
        "我要转人工",
        "我周一下的单到现在还没到，转人工",
    ],
)
def test_asking_for_a_person_now_escalates_even_when_an_entry_matches(text: str) -> None:
    decision = decide(question=text, candidates=[HOURS], policy=POLICY)
    assert (decision.action, decision.escalate) == ("handoff", True)


def test_a_second_unanswerable_question_in_a_row_escalates() -> None:
    history = [
        Turn("customer", "what's the weather"),
        Turn("bot", "not sure", unanswered=True),
        Turn("customer", "and the football scores?"),
    ]
    assert failed_turns(history) == 1
    decision = decide(
        question="and the football scores?", candidates=[Candidate(1, "x", 0.2)], history=history, policy=POLICY
    )
    assert decision.escalate
    assert decision.reason.endswith("2 unanswered in a row")


def test_an_answer_in_between_resets_the_failure_count() -> None:
    history = [Turn("bot", "not sure", unanswered=True), Turn("bot", "Two days."), Turn("customer", "q")]
    assert failed_turns(history) == 0


def test_follow_up_question_uses_previous_turn() -> None:
    history = [
        Turn("customer", "I want a refund for my lamp"),
        Turn("bot", "..."),
        Turn("customer", "and how long does that take?"),
    ]
    assert retrieval_query(history) == "I want a refund for my lamp and how long does that take?"


@pytest.mark.parametrize("follow_up", ["and do you ship to Norway?", "thanks, and where are your stores?"])
def test_a_follow_up_on_a_new_topic_is_read_on_its_own(follow_up: str) -> None:
    history = [Turn("customer", "can I cancel my order?"), Turn("bot", "..."), Turn("customer", follow_up)]
    assert retrieval_query(history) == follow_up
