"""A client back to its conversation gets every message once and in order, however its `resume`
and live messages interleave."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.websockets import ORIGIN, connect

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(db: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chatbot.sites.models import Site

    monkeypatch.setattr("chatbot.replies.receivers.replies_dispatch", lambda waiting: None)
    return Site.objects.create(key="demo", name="Demo", allowed_origins=[ORIGIN])


def message_seq(seq: int) -> Any:
    return lambda frame: frame["type"] == "message" and frame["seq"] == seq


async def test_a_message_stored_between_a_clients_session_and_its_resume_arrives_once_and_in_order(site: Any) -> None:
    _, first_tab = await connect()
    await first_tab.ask("first")
    await first_tab.until(message_seq(1))
    token = first_tab.session["token"]
    await first_tab.close()  # this tab has seen up to seq 1

    _, other_tab = await connect(token=token)
    await other_tab.send({"type": "resume", "after_seq": 1})
    await other_tab.ask("second")  # seq 2, while the first tab is away
    await other_tab.until(message_seq(2))

    _, back = await connect(token=token)  # the first tab is back: its session frame...
    await other_tab.ask("third")  # ...then seq 3 is stored, live...
    await other_tab.until(message_seq(3))
    await back.send({"type": "resume", "after_seq": 1})  # ...then its resume
    frames = await back.until(message_seq(3))

    assert [f["seq"] for f in frames if f["type"] == "message"] == [2, 3]
    assert await back.communicator.receive_nothing(timeout=0.3)
    for tab in (other_tab, back):
        await tab.close()
