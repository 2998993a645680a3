import json
from typing import Any

import pytest

from chatbot.conversations.frames import (
    FeedbackFrame,
    FrameError,
    MessageFrame,
    ResumeFrame,
    TypingFrame,
    parse_client_frame,
)


def test_a_message_frame_is_parsed_and_its_text_trimmed() -> None:
    frame = parse_client_frame(json.dumps({"type": "message", "client_id": "abc-123", "text": "  hello  "}))
    assert isinstance(frame, MessageFrame)
    assert frame.text == "hello"


def test_resume_and_feedback_frames_are_parsed() -> None:
    assert parse_client_frame('{"type":"resume","after_seq":3}') == ResumeFrame(type="resume", after_seq=3)
    assert isinstance(parse_client_frame('{"type":"feedback","seq":2,"value":"down"}'), FeedbackFrame)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert isinstance(parse_client_frame('{"type":"typing","future":1}'), object)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('"a string"', "bad_json"),
        ("{}", "unknown_type"),
        ('{"type":"launch_missiles"}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type":"message","client_id":"a","text":""}', "bad_frame"),
        ('{"type":"message","client_id":"a","text":"   "}', "bad_frame"),
        ('{"type":"message","client_id":"a b","text":"hi"}', "bad_frame"),
        ('{"type":"message","client_id":"a","text":5}', "bad_frame"),
        ('{"type":"message","text":"hi"}', "bad_frame"),
        ('{"type":"resume","after_seq":"3"}', "bad_frame"),
        ('{"type":"resume","after_seq":-1}', "bad_frame"),
        ('{"type":"resume","after_seq":true}', "bad_frame"),
        ('{"type":"feedback","seq":1,"value":"meh"}', "bad_frame"),
        ("[" * 5000 + "]" * 5000, "bad_json"),
        ('{"type":"resume","after_seq":2147483648}', "bad_frame"),  # past the integer column
        ('{"type":"feedback","seq":100000000000000000000,"value":"up"}', "bad_frame"),
        ('{"type":"rating","conversation":9223372036854775808,"score":5}', "bad_frame"),  # past bigint
        ('{"type":"message","client_id":"a","text":"nul \\u0000 inside"}', "bad_frame"),
        ('{"type":"contact","email":"a\\u0000@b.co","text":"hi"}', "bad_frame"),
        ('{"type":"message","client_id":"a","text":"\\ud800"}', "bad_json"),  # a lone surrogate
    ],
)
def test_malformed_frames_raise_the_protocol_error_code(raw: str, code: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(raw)
    assert caught.value.code == code


def test_a_frame_over_the_size_limit_is_refused_before_parsing(settings: Any) -> None:
    raw = json.dumps({"type": "message", "client_id": "a", "text": "x" * settings.CHATBOT_WS_MAX_FRAME_BYTES})
    with pytest.raises(FrameError) as caught:
        parse_client_frame(raw)
    assert caught.value.code == "frame_too_large"


def test_the_frame_size_limit_is_a_setting(settings: Any) -> None:
    # Valid JSON whose padding is an ignored field: only the size check can refuse it.
    raw = json.dumps({"type": "typing", "padding": "x" * 2000})
    assert isinstance(parse_client_frame(raw), TypingFrame)
    settings.CHATBOT_WS_MAX_FRAME_BYTES = 1024
    with pytest.raises(FrameError) as caught:
        parse_client_frame(raw)
    assert caught.value.code == "frame_too_large"
    assert "1024 bytes" in caught.value.message


def test_a_message_longer_than_4000_characters_is_refused() -> None:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(json.dumps({"type": "message", "client_id": "a", "text": "x" * 4001}))
    assert caught.value.code == "bad_frame"
