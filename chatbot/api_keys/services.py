"""Making, revoking and checking API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from chatbot.api_keys.models import ApiKey, Scope
from chatbot.sites.models import Site

logger = logging.getLogger(__name__)

# Keys start with this, so secret scanners and people recognise them.
KEY_PREFIX = "cbk_"
_LOOKUP_CHARS = 12  # after KEY_PREFIX: the public part that finds the row
# The last use is written when the stored one is older than this: a key used 100 times a second
# costs one UPDATE a minute, not 100 a second.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class ApiKeyError(ValueError):
    pass


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_scopes_parse(scopes: Iterable[str] | str) -> list[str]:
    """The scopes in canonical order; raises ApiKeyError for an unknown one or none at all."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    wanted = {s.strip() for s in items if s.strip()}
    unknown = sorted(wanted - set(Scope.values))
    if unknown:
        raise ApiKeyError(f"Unknown scope {unknown[0]!r}; use {', '.join(Scope.values)}.")
    if not wanted:
        raise ApiKeyError(f"Give at least one scope: {', '.join(Scope.values)}.")
    return [s for s in Scope.values if s in wanted]


def api_key_create(*, site: Site, scopes: Iterable[str] | str, name: str = "", by: Any = None) -> tuple[ApiKey, str]:
    """A new key of `site`; returns it and its secret value, which is not stored and cannot be
    shown again."""
    parsed = api_key_scopes_parse(scopes)
    # 12 lookup characters (72 bits) find the row; 43 more (256 bits) are the secret.
    lookup = secrets.token_urlsafe(9)[:_LOOKUP_CHARS]
    key = f"{KEY_PREFIX}{lookup}{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        site=site,
        name=name.strip()[:100],
        prefix=key[: len(KEY_PREFIX) + _LOOKUP_CHARS],
        key_hash=_key_hash(key),
        scopes=parsed,
        created_by=by if by is not None and getattr(by, "pk", None) else None,
    )
    logger.info("API key %s (%s) created for site %s, scopes %s", api_key.pk, api_key.prefix, site.key, parsed)
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """The key stops working at once (kept for the record)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        logger.info("API key %s (%s) revoked", api_key.pk, api_key.prefix)
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The active key with this secret value, of an active site, its last use recorded (to the
    minute); None for an unknown, revoked or malformed one."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    prefix = key[: len(KEY_PREFIX) + _LOOKUP_CHARS]
    api_key = (
        ApiKey.objects.select_related("site__organisation__plan")
        .filter(prefix=prefix, revoked_at__isnull=True, site__is_active=True)
        .first()
    )
    # The hash is compared in constant time even though the prefix matched: the prefix is public.
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _key_hash(key)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
