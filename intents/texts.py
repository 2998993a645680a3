"""The bot's fixed texts (greeting, the gate's clarify and handoff replies, system messages) in
each language it speaks.

`text(key, language)` gives the text in the customer's language, falling back to English for a
language without a translation, so adding a language is adding one dictionary here (and its widget
strings, `static/chatbot/widget.js`, and console catalogue, `locale/`). The Chinese is written as
Chinese customer service writes it ("您", "人工客服"), not translated word for word.
"""

from __future__ import annotations

from typing import Literal

from intents.languages import CHINESE, ENGLISH, base_language, normalise_language

TextKey = Literal[
    "greeting",
    "not_sure",
    "instructions_refused",
    "clarify",
    "asked_for_human",
    "escalated",
    "sentiment_escalated",
    "handoff_requested",
    "contact_left",
    "reply_failed",
    "operator_joined",
    "operator_released",
    "operator_closed",
    "quota_exceeded",
]

TEXTS: dict[str, dict[TextKey, str]] = {
    ENGLISH: {
        "greeting": "Hi! How can we help you today?",
        "not_sure": "I'm not sure I have the right answer to that. Would you like me to bring in a member of our team?",
        "instructions_refused": (
            "I can only answer questions about our shop, your orders and our products, and I can't change how I "
            "work. What can I help you with?"
        ),
        "clarify": "I have a couple of answers that might fit. Which one do you mean?",
        "asked_for_human": "Of course. I'm bringing in a member of our team; they'll reply here as soon as they can.",
        "escalated": "I'm sorry I couldn't help with that. I've asked a member of our team to join this chat.",
        "sentiment_escalated": "I'm sorry this isn't going well. I've asked a member of our team to join this chat.",
        "handoff_requested": (
            "You asked for a person. We've let our team know, and someone will join this chat as soon as they can."
        ),
        "contact_left": "Thanks. Nobody could join the chat in time, so our team will answer you by e-mail at {email}.",
        "reply_failed": "Sorry, I couldn't answer that just now. I've asked a member of our team to join this chat.",
        "operator_joined": "{name} joined the chat.",
        "operator_released": "{name} handed the chat back to the assistant.",
        "operator_closed": "{name} closed the chat.",
        "quota_exceeded": (
            "I can't answer automatically right now: this month's automatic answers are used up. "
            "I've asked a member of our team to join this chat; if nobody can, you can leave your e-mail address."
        ),
    },
    CHINESE: {
        "greeting": "您好！请问有什么可以帮您？",
        "not_sure": "抱歉，这个问题我暂时没法给您准确的答复。需要帮您转接人工客服吗？",
        "instructions_refused": (
            "抱歉，我只能回答与本店商品、订单和服务相关的问题，也无法更改我的设定。请问有什么可以帮您？"
        ),
        "clarify": "我找到了几个可能相关的答案，请问您想问的是哪一个？",
        "asked_for_human": "好的，正在为您转接人工客服，客服会尽快在这里回复您。",
        "escalated": "抱歉没能帮您解决这个问题，已为您转接人工客服，请稍候。",
        "sentiment_escalated": "非常抱歉给您带来了不好的体验，已为您转接人工客服，请稍候。",
        "handoff_requested": "已收到您的人工服务申请，我们已通知客服团队，客服会尽快接入对话。",
        "contact_left": "感谢您的留言！刚才暂时没有客服接入，我们会通过邮件（{email}）回复您。",
        "reply_failed": "抱歉，刚才没能回答您的问题，已为您转接人工客服，请稍候。",
        "operator_joined": "客服 {name} 已接入，为您服务。",
        "operator_released": "客服 {name} 已将对话转回智能助手。",
        "operator_closed": "客服 {name} 已结束本次对话。",
        "quota_exceeded": (
            "抱歉，本月的自动回复次数已用完，暂时无法自动回答。"
            "已为您转接人工客服；如暂时无人接入，您可以留下邮箱，我们会尽快回复您。"
        ),
    },
}


def text_languages() -> tuple[str, ...]:
    """The languages with fixed texts."""
    return tuple(TEXTS)


def text(key: TextKey, language: str = ENGLISH) -> str:
    """The fixed text `key` in `language` (`zh`, `zh-CN`, `zh-hans` are the same), else in English."""
    code = normalise_language(language)
    catalogue = TEXTS.get(code) or TEXTS.get(base_language(code)) or TEXTS[ENGLISH]
    return catalogue[key]
