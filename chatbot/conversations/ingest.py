"""Group commit of customer messages: the websocket's fast path for a message to a conversation
its connection already follows.

`services.message_receive` stores one message per transaction through the ORM: eight statements
and a commit, each a round trip. Under load most of a web process's time went there (bench/README,
"capacity"). Here one writer thread per process takes every message that arrived meanwhile and
stores them all in one transaction with two statements:

1. lock the batch's conversations (in id order, so two processes cannot deadlock on them);
2. one `UPDATE … RETURNING` that hands out each conversation's next `seq` (no read-modify-write in
   Python), chained to one `INSERT … SELECT` of the messages.

The guarantees are `message_receive`'s: a message is committed before its connection acks it, a
`client_id` is stored once per conversation, seqs have no gaps, and the same events and signals
follow the commit. A message the statement does not store (its conversation was closed or handed
elsewhere meanwhile, its language changed under it, or its `client_id` is already stored) comes
back as None: the caller then takes the ORM path, which knows what to do in each case. A batch
whose transaction fails is stored again one message at a time on that path.

PostgreSQL only (`UPDATE … FROM unnest(…)`); elsewhere, or with CHATBOT_GROUP_COMMIT=0, callers use
`message_receive` directly.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from chatbot.conversations import services
from chatbot.conversations.models import Conversation, Message, Sender

logger = logging.getLogger(__name__)

# The most messages stored in one transaction; more wait for the next one.
MAX_BATCH = 500


@dataclass(frozen=True)
class Incoming:
    """A customer message for a conversation its connection follows, as the connection knows it."""

    conversation_id: int
    visitor_id: int
    client_id: str
    text: str
    # The language the conversation was in (`services.conversation_language`) when the connection
    # last heard: the message's own language was detected against it, so it must still hold.
    conversation_language: str
    site_language: str
    language: str


def group_commit_enabled() -> bool:
    """Settings decide (CHATBOT_GROUP_COMMIT: on by default with PostgreSQL)."""
    return bool(settings.CHATBOT_GROUP_COMMIT)


# Message columns the statement fills from the batch; every other column gets its field's default.
_FILLED = {
    "id",
    "conversation",
    "seq",
    "sender",
    "text",
    "language",
    "client_id",
    "reply_pending",
    "reply_dispatched_at",
    "created_at",
}


@cache
def _defaults() -> tuple[list[str], list[str], list[Any]]:
    """(columns, typed placeholders, values) of the Message columns the batch does not fill."""
    columns, placeholders, values = [], [], []
    for field in Message._meta.concrete_fields:
        if field.name in _FILLED or field.column is None:
            continue
        columns.append(connection.ops.quote_name(field.column))
        placeholders.append(f"%s::{field.db_type(connection)}")
        default = field.get_default()
        values.append(None if default is None else field.get_db_prep_save(default, connection))
    return columns, placeholders, values


def _insert_sql() -> str:
    columns, placeholders, _ = _defaults()
    return f"""
        WITH incoming AS (
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                                 %s::text[], %s::int[])
                AS t(conversation_id, visitor_id, client_id, text, conversation_language, site_language,
                     language, position)
        ),
        bumped AS (
            UPDATE conversations_conversation AS c
               SET last_seq = c.last_seq + 1, updated_at = %s, language = i.language
              FROM incoming AS i
             WHERE c.id = i.conversation_id
               AND c.visitor_id = i.visitor_id
               AND c.status <> 'closed'
               AND COALESCE(NULLIF(c.language, ''), i.site_language) = i.conversation_language
               AND NOT EXISTS (
                   SELECT 1 FROM conversations_message AS m
                    WHERE m.conversation_id = i.conversation_id AND m.client_id = i.client_id)
            RETURNING c.id, c.site_id, c.status, c.last_seq, i.client_id, i.text, i.language, i.position
        ),
        stored AS (
            INSERT INTO conversations_message
                   (conversation_id, seq, sender, text, language, client_id, reply_pending, reply_dispatched_at,
                    created_at, {", ".join(columns)})
            SELECT b.id, b.last_seq, %s, b.text, b.language, b.client_id, b.status = 'bot',
                   CASE WHEN b.status = 'bot' THEN %s::timestamptz END, %s, {", ".join(placeholders)}
              FROM bumped AS b
            RETURNING id, conversation_id, seq, reply_pending
        )
        SELECT s.id, s.conversation_id, s.seq, s.reply_pending, b.site_id, b.status, b.last_seq, b.language,
               b.client_id, b.text, b.position
          FROM stored AS s JOIN bumped AS b ON b.id = s.conversation_id
    """


def _rounds(batch: list[Incoming]) -> list[list[tuple[int, Incoming]]]:
    """The batch split so that no conversation appears twice in one statement (an UPDATE … FROM
    updates a row once), keeping each conversation's messages in arrival order."""
    rounds: list[list[tuple[int, Incoming]]] = []
    seen: dict[int, int] = {}
    for position, item in enumerate(batch):
        index = seen.get(item.conversation_id, -1) + 1
        seen[item.conversation_id] = index
        if index == len(rounds):
            rounds.append([])
        rounds[index].append((position, item))
    return rounds


def messages_store(batch: list[Incoming]) -> list[services.Received | None]:
    """Store `batch` in one transaction; for each item its `Received`, or None when it needs the
    ORM path. Events and signals are the caller's to send (`received_announce`) once this returns."""
    now = timezone.now()
    results: list[services.Received | None] = [None] * len(batch)
    _, _, default_values = _defaults()
    sql = _insert_sql()
    with transaction.atomic(), connection.cursor() as cursor:
        ids = sorted({item.conversation_id for item in batch})
        cursor.execute("SELECT id FROM conversations_conversation WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
        for items in _rounds(batch):
            cursor.execute(
                sql,
                [
                    [i.conversation_id for _, i in items],
                    [i.visitor_id for _, i in items],
                    [i.client_id for _, i in items],
                    [i.text for _, i in items],
                    [i.conversation_language for _, i in items],
                    [i.site_language for _, i in items],
                    [i.language for _, i in items],
                    [p for p, _ in items],
                    now,
                    Sender.CUSTOMER.value,
                    now,
                    now,
                    *default_values,
                ],
            )
            for row in cursor.fetchall():
                results[row[10]] = services.Received(_message(row, now), created=True, conversation_started=False)
    return results


def _message(row: tuple[Any, ...], now: datetime) -> Message:
    pk, conversation_id, seq, reply_pending, site_id, status, last_seq, language, client_id, text, _ = row
    # The conversation as far as this statement read it; its other fields load on first use.
    conversation = Conversation.from_db(
        "default",
        ["id", "site_id", "status", "last_seq", "language"],
        [conversation_id, site_id, status, last_seq, language],
    )
    message = Message(
        id=pk,
        conversation_id=conversation_id,
        seq=seq,
        sender=Sender.CUSTOMER,
        text=text,
        language=language,
        client_id=client_id,
        reply_pending=reply_pending,
        reply_dispatched_at=now if reply_pending else None,
        created_at=now,
    )
    message._state.adding = False
    message._state.db = "default"
    message.conversation = conversation
    return message


class GroupCommit:
    """One writer thread that stores what the connections submitted meanwhile, in one transaction."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Incoming, Future[services.Received | None]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, item: Incoming) -> Future[services.Received | None]:
        """Queue `item`; the future resolves once its batch committed (None: take the ORM path)."""
        future: Future[services.Received | None] = Future()
        self._queue.put((item, future))
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="message-group-commit", daemon=True)
                    self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            pending = [self._queue.get()]
            while len(pending) < MAX_BATCH:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(pending)

    def _commit(self, pending: list[tuple[Incoming, Future[services.Received | None]]]) -> None:
        close_old_connections()
        try:
            results = messages_store([item for item, _ in pending])
        except Exception:
            # A concurrent writer of the same client_id, a deadlock, a lost connection: nothing of the
            # batch was stored. Each message goes the ORM way, which stores or finds it.
            logger.warning("group commit of %d messages failed; storing them one by one", len(pending), exc_info=True)
            results = [None] * len(pending)
        finally:
            close_old_connections()
        for (_, future), received in zip(pending, results, strict=True):
            future.set_result(received)
        # The acks go out first; then what the committed messages set off, in commit order.
        stored = [received.message for received in results if received is not None]
        if stored:
            try:
                services.customer_messages_announce(stored)
            except Exception:
                logger.exception("announcing %d stored messages failed", len(stored))
        close_old_connections()


_writer = GroupCommit()


def message_submit(item: Incoming) -> Future[services.Received | None]:
    """Store a customer message with the others arriving now (see the module's docstring)."""
    return _writer.submit(item)
