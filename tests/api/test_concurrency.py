"""Concurrent posts of one client_id, each on its own connection: needs PostgreSQL's row locks
(SQLite runs one writer at a time, so there is no race to test there)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from chatbot.conversations.models import Message, Sender
from chatbot.sites.models import Site
from tests.api.conftest import Api

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (row locks, concurrent writers)"),
]

CLIENTS = 12
ROUNDS = 3


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) on `count` threads released together; their results, or the first error raised."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def test_concurrent_posts_of_one_client_id_store_one_message_and_get_one_reply(
    shop_site: Site, key_for: Callable[..., str]
) -> None:
    key = key_for(shop_site)
    for round_ in range(ROUNDS):
        cid = Api(key).post("/conversations").json()["id"]

        def post(_: int, cid: int = cid, round_: int = round_) -> Any:
            response = Api(key).post(f"/conversations/{cid}/messages", {"client_id": f"same-{round_}", "text": "Hi"})
            return response.status_code, response.json()

        answers = at_once(CLIENTS, post)

        assert {status for status, _ in answers} == {202}
        assert len({body["seq"] for _, body in answers}) == 1
        assert Message.objects.filter(conversation_id=cid, sender=Sender.CUSTOMER).count() == 1
        assert Message.objects.filter(conversation_id=cid, sender=Sender.BOT).count() == 1
