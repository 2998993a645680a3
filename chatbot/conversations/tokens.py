"""Visitor tokens: signed, expiring, bound to one site and one visitor.

The widget keeps the token in localStorage; it is the only credential a visitor has, so it
carries nothing secret and cannot be forged, moved to another site, or used forever.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing

_SALT = "chatbot.visitor-token.v1"


def visitor_token_issue(*, site_key: str, visitor_id: uuid.UUID) -> str:
    return signing.dumps({"s": site_key, "v": str(visitor_id)}, salt=_SALT, compress=False)


def visitor_token_read(token: str, *, site_key: str) -> uuid.UUID | None:
    """The visitor id of a valid, unexpired token for `site_key`, else None."""
    try:
        payload = signing.loads(token, salt=_SALT, max_age=settings.CHATBOT_VISITOR_TOKEN_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(payload, dict) or payload.get("s") != site_key:
        return None
    try:
        return uuid.UUID(str(payload.get("v")))
    except ValueError:
        return None
