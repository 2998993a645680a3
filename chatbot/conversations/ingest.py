"""Group commit of customer messages: the websocket's path for its messages, a conversation's
first one included.

`services.message_receive` stores one message per transaction through the ORM: eight statements
and a commit, each a round trip. Under load most of a web process's time went there (bench/README,
"capacity"). Here one writer thread per process takes every message that arrived meanwhile and
stores them all in one transaction with two statements:

1. lock the batch's conversations (in id order, so two processes cannot deadlock on them);
2. one `UPDATE … RETURNING` that hands out each conversation's next `seq` (no read-modify-write in
   Python), chained to one `INSERT … SELECT` of the messages.

A message that starts a conversation (its connection follows none, or a closed one) is stored in the
same transaction: the batch first locks those visitors (in id order, as `message_receive` does
before it locks a conversation) and creates one conversation for each visitor who has none open.

The guarantees are `message_receive`'s: a message is committed before its connection acks it, a
`client_id` is stored once per conversation, seqs have no gaps, and the same events and signals
follow the commit. A message the statement does not store (its conversation was closed or handed
elsewhere meanwhile, its language changed under it, its `client_id` is already stored, or it would
start a conversation for a visitor who has one open) comes back as None: the caller then takes the
ORM path, which knows what to do in each case. A batch whose transaction fails is stored again one
message at a time on that path.

With the Redis channel layer the writer also puts each socket that started a conversation into
that conversation's group (`events.sockets_join`: one pipeline for the batch), before the acks and
before the replies are queued: no reply can be published before its socket listens, so the socket
neither joins nor reads back for one itself. In the first second of 1,000 sessions starting at
once those joins and read-backs had been about a sixth of the web process's time.

PostgreSQL only (`UPDATE … FROM unnest(…)`); elsewhere, or with CHATBOT_GROUP_COMMIT=0, callers use
`message_receive` directly. Only the widget's socket uses it: the API and the console store one
message per request.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from chatbot.conversations import events, services
from chatbot.conversations.models import Conversation, Message, Sender, Visitor

logger = logging.getLogger(__name__)

# The most messages stored in one transaction; more wait for the next one.
MAX_BATCH = 500


@dataclass(frozen=True)
class Incoming:
    """A customer message as its connection knows it: for the conversation it follows, or (with
    `conversation_id` None) the first of a new one."""

    conversation_id: int | None
    visitor_id: int
    client_id: str
    text: str
    # The language the conversation was in (`services.conversation_language`) when the connection
    # last heard, the site's for a new one: the message's own language was detected against it,
    # so it must still hold.
    conversation_language: str
    site_language: str
    language: str
    # What a new conversation is created with.
    site_id: int = 0
    visitor_public_id: str = ""
    page_url: str = ""
    user_agent: str = ""
    # The channel of the socket that sent it: the stored message is not published back to it.
    channel_name: str = ""


def group_commit_enabled() -> bool:
    """Settings decide (CHATBOT_GROUP_COMMIT: on by default with PostgreSQL)."""
    return bool(settings.CHATBOT_GROUP_COMMIT)


# Columns the statements fill from the batch; every other column gets its field's default.
_FILLED = {
    Message: frozenset(
        {
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
    ),
    Conversation: frozenset({"id", "site", "visitor", "page_url", "user_agent", "created_at", "updated_at"}),
}


@cache
def _defaults(model: type[Message] | type[Conversation]) -> tuple[list[str], list[str], list[Any]]:
    """(columns, typed placeholders, values) of `model`'s columns the batch does not fill."""
    columns, placeholders, values = [], [], []
    for field in model._meta.concrete_fields:
        if field.name in _FILLED[model] or field.column is None:
            continue
        columns.append(connection.ops.quote_name(field.column))
        placeholders.append(f"%s::{field.db_type(connection)}")
        default = field.get_default()
        values.append(None if default is None else field.get_db_prep_save(default, connection))
    return columns, placeholders, values


@cache
def _conversations_sql() -> str:
    columns, placeholders, _ = _defaults(Conversation)
    return f"""
        INSERT INTO conversations_conversation
               (site_id, visitor_id, page_url, user_agent, created_at, updated_at, {", ".join(columns)})
        SELECT t.site_id, t.visitor_id, t.page_url, t.user_agent, %s, %s, {", ".join(placeholders)}
          FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])
               AS t(site_id, visitor_id, page_url, user_agent)
        RETURNING id, visitor_id
    """


@cache
def _insert_sql() -> str:
    columns, placeholders, _ = _defaults(Message)
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
            RETURNING c.id, c.site_id, c.visitor_id, c.status, c.last_seq, i.client_id, i.text, i.language,
                      i.position
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
        SELECT s.id, s.conversation_id, s.seq, s.reply_pending, b.site_id, b.visitor_id, b.status, b.language,
               b.client_id, b.text, b.position
          FROM stored AS s JOIN bumped AS b ON b.id = s.conversation_id
    """


def _rounds(batch: list[tuple[int, Incoming]]) -> list[list[tuple[int, Incoming]]]:
    """The (position, message) pairs split so that no conversation appears twice in one statement
    (an UPDATE … FROM updates a row once), keeping each conversation's messages in arrival order."""
    rounds: list[list[tuple[int, Incoming]]] = []
    seen: dict[int | None, int] = {}
    for position, item in batch:
        index = seen.get(item.conversation_id, -1) + 1
        seen[item.conversation_id] = index
        if index == len(rounds):
            rounds.append([])
        rounds[index].append((position, item))
    return rounds


def _conversations_start(cursor: Any, batch: list[Incoming], now: datetime) -> tuple[list[Incoming | None], set[int]]:
    """Create a conversation for each visitor of the batch's starting messages who has none open.
    Returns the batch with those messages pointed at it (None for one that must take the ORM path:
    its visitor has an open conversation this connection does not follow), and the new ids."""
    starts = [item for item in batch if item.conversation_id is None]
    if not starts:
        return list(batch), set()
    visitors = sorted({item.visitor_id for item in starts})
    # As message_receive does: the visitor's lock serialises two tabs that start at the same moment.
    cursor.execute("SELECT id FROM conversations_visitor WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [visitors])
    cursor.execute(
        "SELECT DISTINCT visitor_id FROM conversations_conversation WHERE visitor_id = ANY(%s) AND status <> 'closed'",
        [visitors],
    )
    busy = {row[0] for row in cursor.fetchall()}
    fresh: dict[int, Incoming] = {}
    for item in starts:
        if item.visitor_id not in busy:
            fresh.setdefault(item.visitor_id, item)
    created: dict[int, int] = {}
    if fresh:
        firsts = list(fresh.values())
        cursor.execute(
            _conversations_sql(),
            [
                now,
                now,
                *_defaults(Conversation)[2],
                [i.site_id for i in firsts],
                [i.visitor_id for i in firsts],
                [i.page_url[:2000] for i in firsts],
                [i.user_agent[:500] for i in firsts],
            ],
        )
        created = {visitor_id: pk for pk, visitor_id in cursor.fetchall()}
    pointed: list[Incoming | None] = []
    for item in batch:
        if item.conversation_id is not None:
            pointed.append(item)
        elif item.visitor_id in created:
            pointed.append(replace(item, conversation_id=created[item.visitor_id]))
        else:
            pointed.append(None)
    return pointed, set(created.values())


def messages_store(batch: list[Incoming]) -> list[services.Received | None]:
    """Store `batch` in one transaction; for each item what was stored, or None when it needs the
    ORM path. Events and signals are the caller's to send (`GroupCommit._commit`) once this returns."""
    now = timezone.now()
    results: list[services.Received | None] = [None] * len(batch)
    _, _, default_values = _defaults(Message)
    sql = _insert_sql()
    with transaction.atomic(), connection.cursor() as cursor:
        pointed, new_conversations = _conversations_start(cursor, batch, now)
        ready = [(position, item) for position, item in enumerate(pointed) if item is not None]
        ids = sorted({item.conversation_id for _, item in ready if item.conversation_id is not None})
        cursor.execute("SELECT id FROM conversations_conversation WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
        for items in _rounds(ready):
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
                message = _message(row, now)
                started = message.conversation_id in new_conversations and message.seq == 1
                results[row[10]] = services.Received(message, created=True, conversation_started=started)
    return results


def _message(row: tuple[Any, ...], now: datetime) -> Message:
    pk, conversation_id, seq, reply_pending, site_id, visitor_id, status, language, client_id, text, _ = row
    # The conversation as far as this statement read it (the message's seq is its last one); its
    # other fields load on first use.
    conversation = Conversation.from_db(
        "default",
        ["id", "site_id", "visitor_id", "status", "last_seq", "language"],
        [conversation_id, site_id, visitor_id, status, seq, language],
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
        results = _origins_joined(pending, results)
        for (_, future), received in zip(pending, results, strict=True):
            future.set_result(received)
        # The acks go out first; then what the committed messages set off, in commit order: the
        # conversations they started (their visitors' other tabs join them), then the messages.
        done = [(item, received) for (item, _), received in zip(pending, results, strict=True) if received is not None]
        try:
            for item, received in done:
                if received.conversation_started:
                    conversation = received.message.conversation
                    visitor = Visitor.from_db(
                        "default",
                        ["id", "public_id", "site_id"],
                        [conversation.visitor_id, uuid.UUID(item.visitor_public_id), conversation.site_id],
                    )
                    services.conversation_started_announce(
                        conversation=conversation, visitor=visitor, origin=item.channel_name
                    )
            if done:
                services.customer_messages_announce(
                    [received.message for _, received in done], origins=[item.channel_name for item, _ in done]
                )
        except Exception:
            logger.exception("announcing %d stored messages failed", len(done))
        close_old_connections()


def _origins_joined(
    pending: list[tuple[Incoming, Future[services.Received | None]]], results: list[services.Received | None]
) -> list[services.Received | None]:
    """Join the sockets that started conversations in this batch to their conversations' groups,
    all in one round trip, before their acks and before their replies are queued: a reply can then
    never be published before its socket listens, and the socket neither joins nor looks for one
    itself (`ChatConsumer._on_message`). As they were where the channel layer cannot do it here."""
    started = [
        (index, received.message.conversation_id, item.channel_name)
        for index, ((item, _), received) in enumerate(zip(pending, results, strict=True))
        if received is not None and received.conversation_started and item.channel_name
    ]
    if not started or not events.sockets_join([(conversation_id, channel) for _, conversation_id, channel in started]):
        return results
    joined = list(results)
    for index, _, _ in started:
        received = joined[index]
        assert received is not None
        joined[index] = replace(received, origin_joined=True)
    return joined


_writer = GroupCommit()


def message_submit(item: Incoming) -> Future[services.Received | None]:
    """Store a customer message with the others arriving now (see the module's docstring)."""
    return _writer.submit(item)
