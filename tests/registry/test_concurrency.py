"""Promotes racing each other in separate connections: needs PostgreSQL's row locks (SQLite runs
one writer at a time anyway, so there is no race to test there)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from chatbot.registry.models import ActivationEvent, ModelVersion
from chatbot.registry.services import model_version_promote

# Not `integration`: that marker means real server and worker processes; this needs PostgreSQL
# only, which the fast suite runs against too.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (row locks, concurrent writers)"),
]

ROUNDS = 5


def promote_at_once(versions: list[ModelVersion]) -> list[BaseException]:
    """Promote each version on its own thread (so its own connection), released together."""
    start = threading.Barrier(len(versions))
    errors: list[BaseException] = []

    def promote(version: ModelVersion) -> None:
        try:
            start.wait()
            model_version_promote(version=version, by=threading.current_thread().name)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=promote, args=(version,)) for version in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_concurrent_promotes_leave_exactly_one_active_version(register: Callable[..., ModelVersion]) -> None:
    for round_ in range(ROUNDS):
        contenders = [register(f"r{round_}-a"), register(f"r{round_}-b")]

        assert promote_at_once(contenders) == []

        active = list(ModelVersion.objects.filter(kind="intents", is_active=True))
        assert len(active) == 1
        assert active[0] in contenders
        # Both promotes happened, one after the other: the later one's `previous` is the earlier one.
        latest, earlier = ActivationEvent.objects.order_by("-pk")[:2]
        assert latest.model_version == active[0]
        assert latest.previous == earlier
