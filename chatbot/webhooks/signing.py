"""The signature of a delivery, as Stripe signs its webhooks: the header
`X-Chatbot-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, with one `v1=`
per secret in use (two while a rotation's overlap lasts). A receiver computes the HMAC with its
secret, compares it in constant time with each `v1`, and refuses a `t` too far from its clock."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Chatbot-Signature"
DELIVERY_HEADER = "X-Chatbot-Delivery"
EVENT_HEADER = "X-Chatbot-Event"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header's value: `t=<timestamp>` and a `v1=` for each secret, the current one first."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets)])
