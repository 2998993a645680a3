"""A conversation in the customer's language: each message's language is stored, and the system
messages the customer sees are written in it."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.conversations import services
from chatbot.conversations.models import Message, Sender, Visitor
from chatbot.sites.models import Site
from intents.languages import CHINESE
from intents.texts import text
from intents.types import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_reply_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatbot.replies.receivers.replies_dispatch", lambda waiting: None)


@pytest.fixture
def visitor(shop_site: Site) -> Visitor:
    return Visitor.objects.create(site=shop_site)


def test_a_chinese_message_is_stored_as_chinese_and_so_is_its_conversation(visitor: Visitor) -> None:
    received = services.message_receive(visitor=visitor, client_id="c1", text="我想退货，怎么办？")
    received.message.refresh_from_db()
    assert received.message.language == CHINESE
    assert received.message.conversation.language == CHINESE


def test_a_reply_without_letters_keeps_the_conversations_language(visitor: Visitor) -> None:
    services.message_receive(visitor=visitor, client_id="c1", text="运费多少钱？")
    second = services.message_receive(visitor=visitor, client_id="c2", text="ok 2").message
    assert Message.objects.get(pk=second.pk).language == CHINESE


def test_switching_to_english_switches_the_conversation(visitor: Visitor) -> None:
    services.message_receive(visitor=visitor, client_id="c1", text="运费多少钱？")
    english = services.message_receive(visitor=visitor, client_id="c2", text="Sorry, how much is shipping?").message
    english.refresh_from_db()
    assert english.language == "en"
    assert english.conversation.language == "en"


def test_the_bots_reply_is_recorded_in_the_language_of_the_question(visitor: Visitor) -> None:
    question = services.message_receive(visitor=visitor, client_id="c1", text="运费多少钱？").message
    reply = services.bot_reply_store(
        customer_message=question, answer=Answer(text="满50欧元包邮。", intent="faq", confidence=0.9), timings={}
    )
    assert reply is not None and reply.language == CHINESE


def test_asking_for_a_person_is_confirmed_in_the_customers_language(visitor: Visitor) -> None:
    services.message_receive(visitor=visitor, client_id="c1", text="我的包裹还没到")
    conversation = services.conversation_handoff_request(visitor=visitor)
    notice = Message.objects.filter(conversation=conversation, sender=Sender.SYSTEM).get()
    assert notice.text == text("handoff_requested", CHINESE)
    assert notice.language == CHINESE


def test_the_left_message_is_confirmed_in_chinese_with_the_address(visitor: Visitor) -> None:
    services.message_receive(visitor=visitor, client_id="c1", text="有人吗？")
    services.conversation_handoff_request(visitor=visitor)
    services.contact_request_leave(visitor=visitor, email="li.wei@example.cn", text="请给我回邮件")
    notice = Message.objects.filter(sender=Sender.SYSTEM).order_by("-seq").first()
    assert notice is not None
    assert notice.text == text("contact_left", CHINESE).format(email="li.wei@example.cn")


def test_a_conversation_that_has_no_message_yet_is_in_the_sites_language(shop_site: Site, visitor: Visitor) -> None:
    shop_site.language = "zh-CN"
    shop_site.save()
    conversation = services.conversation_handoff_request(visitor=visitor)
    assert Message.objects.get(conversation=conversation, sender=Sender.SYSTEM).text == text(
        "handoff_requested", CHINESE
    )


def test_english_conversations_keep_their_english_texts(visitor: Visitor) -> None:
    services.message_receive(visitor=visitor, client_id="c1", text="where is my parcel")
    conversation = services.conversation_handoff_request(visitor=visitor)
    notice = Message.objects.get(conversation=conversation, sender=Sender.SYSTEM)
    assert notice.text == services.HANDOFF_REQUESTED_TEXT


def test_a_site_greets_in_each_language_it_serves(shop_site: Site) -> None:
    shop_site.languages = ["en", "zh-hans"]
    shop_site.greeting = "Hello from the shop!"
    shop_site.save()
    settings = shop_site.widget_settings()
    assert settings["languages"] == ["en", CHINESE]
    assert settings["greetings"] == {"en": "Hello from the shop!", CHINESE: text("greeting", CHINESE)}
    shop_site.greetings = {"zh-CN": "欢迎光临小店！"}
    assert shop_site.greeting_for("zh-hans") == "欢迎光临小店！"


def test_the_languages_field_is_validated(shop_site: Any) -> None:
    from django.core.exceptions import ValidationError

    shop_site.languages = "en"
    with pytest.raises(ValidationError):
        shop_site.full_clean()


def test_asking_for_a_person_before_writing_is_confirmed_in_the_widgets_language(visitor: Visitor) -> None:
    conversation = services.conversation_handoff_request(visitor=visitor, language="zh-CN")
    notice = Message.objects.get(conversation=conversation, sender=Sender.SYSTEM)
    assert notice.text == text("handoff_requested", CHINESE)


def test_the_widgets_language_does_not_override_the_language_the_customer_writes_in(visitor: Visitor) -> None:
    services.message_receive(visitor=visitor, client_id="c1", text="where is my parcel")
    conversation = services.conversation_handoff_request(visitor=visitor, language="zh-hans")
    notice = Message.objects.get(conversation=conversation, sender=Sender.SYSTEM)
    assert notice.text == text("handoff_requested", "en")


def test_a_handoff_frame_may_carry_the_widgets_language() -> None:
    from pydantic import ValidationError

    from chatbot.conversations.frames import HandoffFrame

    assert HandoffFrame.model_validate({"type": "handoff", "language": "zh-hans"}).language == "zh-hans"
    assert HandoffFrame.model_validate({"type": "handoff"}).language == ""
    with pytest.raises(ValidationError):
        HandoffFrame.model_validate({"type": "handoff", "language": "<script>"})
