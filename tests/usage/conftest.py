"""The API's fixtures (keys, the echo responder) for the usage tests."""

from tests.api.conftest import echo_replies, key_for

__all__ = ["echo_replies", "key_for"]
