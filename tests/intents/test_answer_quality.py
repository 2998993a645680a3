"""Scoring of the answer-quality evaluation (`intents.answer_quality`)."""

from __future__ import annotations

import re

from intents.answer_quality import Expectation, Item, Reply, outcome_score, summary

RETURNS = Expectation(("How long do I have to return an item?",), re.compile("30 days", re.I), (re.compile("45 days"),))


def reply(
    text: str,
    decision: str = "answer",
    cited: tuple[str, ...] = ("How long do I have to return an item?",),
    *,
    generated: bool = False,
    first_token_ms: float | None = 100.0,
) -> Reply:
    return Reply(text, decision, cited, "You can return most items within 30 days.", first_token_ms, generated)


def test_a_reply_is_correct_only_with_the_right_entry_the_key_fact_and_no_forbidden_claim() -> None:
    item = Item("in_scope", ("return window?",), RETURNS)
    assert outcome_score(item, reply("Within 30 days of delivery.")).correct
    assert not outcome_score(item, reply("Within 30 days.", cited=("Are returns free?",))).correct
    assert not outcome_score(item, reply("Soon.")).correct
    wrong = outcome_score(item, reply("Within 30 days, or 45 days at Christmas."))
    assert (wrong.correct, wrong.contradiction) == (False, True)
    assert not outcome_score(item, reply("Let me ask a person.", decision="handoff", cited=())).correct


def test_an_off_topic_question_is_refused_unless_answered_from_the_faq() -> None:
    item = Item("out_of_scope", ("capital of France?",), None)
    assert outcome_score(item, reply("Not sure; a person?", decision="handoff", cited=())).refused
    assert outcome_score(item, reply("Which one?", decision="clarify")).refused
    assert not outcome_score(item, reply("Within 30 days.")).refused


def test_the_summary_counts_rates_over_the_right_questions() -> None:
    in_scope = Item("in_scope", ("q",), RETURNS)
    outcomes = [
        outcome_score(in_scope, reply("30 days", generated=True, first_token_ms=100)),
        outcome_score(in_scope, reply("45 days", first_token_ms=300)),
        outcome_score(in_scope, reply("Which?", decision="clarify", first_token_ms=200)),
        outcome_score(Item("out_of_scope", ("x",), None), reply("n", decision="handoff", cited=(), first_token_ms=50)),
    ]
    figures = summary(outcomes)
    assert figures["correct"] == round(1 / 3, 4)
    assert figures["contradictions"] == 1 and figures["contradiction_texts"][0]["reply"] == "45 days"
    assert figures["clarify_rate"] == round(1 / 3, 4) and figures["oos_refused"] == 1.0
    assert figures["generated_share"] == 0.5  # of the two answers, one was generated
    assert figures["ttft_ms_p50"] == 150.0
