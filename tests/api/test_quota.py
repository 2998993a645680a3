"""Plans: the monthly answer quota and the per-key rate, on the API and in the widget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache

from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender
from chatbot.conversations.services import message_receive, session_open
from chatbot.replies.services import quota_exceeded_answer, reply_generate
from chatbot.sites.models import Organisation, Plan, Site
from chatbot.usage.models import Metric
from chatbot.usage.selectors import site_quota
from chatbot.usage.services import usage_add
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_counts() -> None:
    cache.clear()


def put_on_plan(site: Site, **plan: Any) -> Plan:
    chosen = Plan.objects.create(name=f"plan-{Plan.objects.count()}", **plan)
    organisation = Organisation.objects.create(name="Acme", slug=f"acme-{chosen.pk}", plan=chosen)
    Site.objects.filter(pk=site.pk).update(organisation=organisation)
    return chosen


def test_over_the_monthly_quota_messages_get_429_quota_exceeded_with_retry_after(
    shop_site: Site, key_for: Callable[..., str]
) -> None:
    put_on_plan(shop_site, monthly_answer_quota=2)
    api = Api(key_for(shop_site))
    cid = api.post("/conversations").json()["id"]
    assert api.post(f"/conversations/{cid}/messages", {"client_id": "a", "text": "One"}).status_code == 202
    assert api.post(f"/conversations/{cid}/messages", {"client_id": "b", "text": "Two"}).status_code == 202

    refused = api.post(f"/conversations/{cid}/messages", {"client_id": "c", "text": "Three"})
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "quota_exceeded"
    assert 0 < int(refused["Retry-After"]) <= 31 * 24 * 3600
    assert not Message.objects.filter(conversation_id=cid, client_id="c").exists()
    # A message already stored is still acknowledged the same (idempotent), and reading goes on.
    assert api.post(f"/conversations/{cid}/messages", {"client_id": "a", "text": "One"}).json()["seq"] == 1
    assert api.get(f"/conversations/{cid}/messages").status_code == 200


def test_quota_counts_every_site_of_the_organisation(shop_site: Site, other_site: Site) -> None:
    plan = put_on_plan(shop_site, monthly_answer_quota=5)
    Site.objects.filter(pk=other_site.pk).update(organisation=Site.objects.get(pk=shop_site.pk).organisation)
    usage_add(site_id=other_site.pk, counts={Metric.BOT_ANSWERS: plan.monthly_answer_quota})
    assert site_quota(site=Site.objects.get(pk=shop_site.pk)).exceeded


@pytest.mark.parametrize(
    ("question", "language", "said"),
    [("Where is my order?", "en", "used up"), ("我的订单到哪了？", "zh-hans", "人工客服")],
)
def test_a_widget_over_quota_offers_a_person_with_an_honest_text_in_the_customers_language(
    shop_site: Site, question: str, language: str, said: str
) -> None:
    put_on_plan(shop_site, monthly_answer_quota=1)
    usage_add(site_id=shop_site.pk, counts={Metric.BOT_ANSWERS: 1})
    visitor = session_open(site=Site.objects.get(pk=shop_site.pk), token=None).visitor
    received = message_receive(visitor=visitor, client_id="w1", text=question)

    reply = reply_generate(message_id=received.message.pk)

    assert reply is not None and reply.language == language
    assert reply.text == quota_exceeded_answer(language).text and said in reply.text
    assert reply.decision == "handoff" and reply.handoff_offered
    conversation = Conversation.objects.get(pk=received.message.conversation_id)
    assert conversation.status == ConversationStatus.WAITING_HUMAN
    assert Message.objects.filter(conversation=conversation, sender=Sender.BOT).count() == 1


def test_past_the_plans_rate_a_key_gets_429_rate_limited_with_retry_after(
    shop_site: Site, key_for: Callable[..., str]
) -> None:
    put_on_plan(shop_site, rate_limit_per_minute=3)
    api = Api(key_for(shop_site))
    assert [api.get("/usage").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("/usage")
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # The limit is per key: another key of the same site still gets through.
    assert Api(key_for(shop_site)).get("/usage").status_code == 200


def test_without_a_plan_there_is_no_quota_and_no_rate(shop_site: Site, key_for: Callable[..., str]) -> None:
    usage_add(site_id=shop_site.pk, counts={Metric.BOT_ANSWERS: 10**6})
    api = Api(key_for(shop_site))
    assert {api.get("/usage").status_code for _ in range(20)} == {200}
    cid = api.post("/conversations").json()["id"]
    assert api.post(f"/conversations/{cid}/messages", {"client_id": "x", "text": "Hi"}).status_code == 202
