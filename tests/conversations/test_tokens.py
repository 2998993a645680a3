import uuid

from django.test import override_settings

from chatbot.conversations.tokens import visitor_token_issue, visitor_token_read


def test_a_token_reads_back_as_its_visitor_on_its_site() -> None:
    visitor = uuid.uuid4()
    assert visitor_token_read(visitor_token_issue(site_key="shop", visitor_id=visitor), site_key="shop") == visitor


def test_a_token_of_another_site_is_refused() -> None:
    token = visitor_token_issue(site_key="other", visitor_id=uuid.uuid4())
    assert visitor_token_read(token, site_key="shop") is None


def test_a_tampered_token_is_refused() -> None:
    token = visitor_token_issue(site_key="shop", visitor_id=uuid.uuid4())
    forged = token.replace(token[5], "A" if token[5] != "A" else "B", 1)
    assert visitor_token_read(forged, site_key="shop") is None
    assert visitor_token_read("garbage", site_key="shop") is None


def test_an_expired_token_is_refused() -> None:
    token = visitor_token_issue(site_key="shop", visitor_id=uuid.uuid4())
    with override_settings(CHATBOT_VISITOR_TOKEN_MAX_AGE=-1):
        assert visitor_token_read(token, site_key="shop") is None
