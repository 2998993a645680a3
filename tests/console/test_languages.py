"""The console in the operator's language (Django i18n, the zh_Hans catalogue under locale/), and
what operators do told to a Chinese customer in Chinese."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatbot.console import services
from chatbot.console.models import Operator
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender, Visitor
from intents.languages import CHINESE
from intents.texts import text
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plain_http_console(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def operator(shop_site: Any) -> Operator:
    return make_operator("mei", sites=[shop_site], name="Mei")


def _client(operator: Operator, **headers: str) -> Client:
    client = Client(headers=headers)
    client.force_login(operator.user)
    return client


def test_an_operator_who_chose_chinese_gets_the_console_in_chinese(operator: Operator) -> None:
    operator.language = CHINESE
    operator.save()
    inbox = _client(operator).get(reverse("console:inbox")).content.decode()
    assert '<html lang="zh-hans">' in inbox
    assert "收件箱" in inbox and "知识库" in inbox and "接管" in inbox and "交回机器人" in inbox
    assert "Take over" not in inbox
    knowledge = _client(operator).get(reverse("knowledge:faq_list")).content.decode()
    assert "FAQ 条目" in knowledge and "导出 CSV" in knowledge
    form = _client(operator).get(reverse("knowledge:faq_create")).content.decode()
    assert "客户通常的问法。" in form and "创建条目" in form


def test_without_a_choice_the_console_follows_the_browser(operator: Operator) -> None:
    chinese = _client(operator, accept_language="zh-CN,zh;q=0.9").get(reverse("console:inbox")).content.decode()
    assert "收件箱" in chinese
    english = _client(operator, accept_language="en-GB").get(reverse("console:inbox")).content.decode()
    assert "Inbox" in english and "收件箱" not in english


def test_the_operators_choice_wins_over_the_browser(operator: Operator) -> None:
    operator.language = "en"
    operator.save()
    page = _client(operator, accept_language="zh-CN").get(reverse("console:inbox")).content.decode()
    assert "Inbox" in page and "收件箱" not in page


def test_an_operator_picks_the_console_language_from_the_console(operator: Operator) -> None:
    client = _client(operator)
    response = client.post(reverse("console:language"), {"language": CHINESE, "next": "/console/knowledge/"})
    assert response.status_code == 302 and response["Location"] == "/console/knowledge/"
    operator.refresh_from_db()
    assert operator.language == CHINESE
    client.post(reverse("console:language"), {"language": "klingon", "next": "https://evil.example/"})
    operator.refresh_from_db()
    assert operator.language == CHINESE


def test_an_operator_taking_over_a_chinese_conversation_is_announced_in_chinese(
    operator: Operator, shop_site: Any
) -> None:
    conversation = Conversation.objects.create(
        site=shop_site,
        visitor=Visitor.objects.create(site=shop_site),
        status=ConversationStatus.WAITING_HUMAN,
        language=CHINESE,
    )
    services.conversation_claim(conversation_id=conversation.pk, operator=operator)
    services.conversation_close(conversation_id=conversation.pk, operator=operator)
    notices = list(Message.objects.filter(conversation=conversation, sender=Sender.SYSTEM).order_by("seq"))
    assert [n.text for n in notices] == [
        text("operator_joined", CHINESE).format(name="Mei"),
        text("operator_closed", CHINESE).format(name="Mei"),
    ]
    assert all(n.language == CHINESE for n in notices)


def test_the_inbox_scripts_strings_come_in_the_operators_language(operator: Operator) -> None:
    operator.language = CHINESE
    operator.save()
    client = _client(operator)
    assert "/console/jsi18n/" in client.get(reverse("console:inbox")).content.decode()
    catalogue = client.get(reverse("console:jsi18n")).content.decode("utf-8")
    assert "\\u5df2\\u8fde\\u63a5" in catalogue or "已连接" in catalogue  # "Live": 已连接
    english = _client(make_operator("ed", sites=[], name="Ed")).get(reverse("console:jsi18n"))
    assert "已连接" not in english.content.decode("utf-8") and "\\u5df2\\u8fde\\u63a5" not in english.content.decode()


def test_an_inbox_row_says_which_language_the_customer_writes_in(shop_site: Any) -> None:
    from chatbot.console.selectors import inbox_row_get

    conversation = Conversation.objects.create(
        site=shop_site, visitor=Visitor.objects.create(site=shop_site), language=CHINESE
    )
    row = inbox_row_get(conversation_id=conversation.pk, site_ids=[shop_site.pk])
    assert row is not None and row["language"] == CHINESE


def test_the_sign_in_page_follows_the_browsers_language(db: None) -> None:
    page = Client(headers={"accept_language": "zh-CN"}).get(reverse("console:login")).content.decode()
    assert "客服控制台" in page and "用户名" in page
    assert "Operator console" in Client().get(reverse("console:login")).content.decode()
