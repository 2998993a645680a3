"""Re-embedding a site's FAQ right after an edit, per settings.CHATBOT_DISPATCH, so the bot can
answer with a new or changed entry without waiting for a customer's question to trigger it."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from chatbot.knowledge.answering import faq_embed_stale, faq_index_get
from chatbot.sites.models import Site

logger = logging.getLogger(__name__)


def faq_refresh(*, site_id: int) -> int:
    """Embed the site's stale entries and rebuild this process's index of the site.

    Returns how many entries were embedded. Idempotent: a second run finds nothing stale.
    """
    site = Site.objects.filter(pk=site_id).first()
    if site is None:  # deleted meanwhile
        return 0
    embedded = faq_embed_stale(site=site)
    # Rebuilding the cached index now spares the next customer of this process the rebuild.
    faq_index_get(site=site)
    return embedded


def faq_refresh_dispatch(*, site_id: int) -> None:
    """Re-embed the site's FAQ: on an inference worker (celery), on a thread of this process
    (inprocess) or right here (inline). Call after the change is committed."""
    mode = settings.CHATBOT_DISPATCH
    if mode == "celery":
        from chatbot.knowledge.tasks import faq_embed

        faq_embed.delay(site_id)
    elif mode == "inline":
        faq_refresh(site_id=site_id)
    else:
        threading.Thread(target=_refresh_logged, args=(site_id,), name=f"faq-embed-{site_id}", daemon=True).start()


def _refresh_logged(site_id: int) -> None:
    close_old_connections()
    try:
        faq_refresh(site_id=site_id)
    except Exception:
        # The entry is saved; a worker re-embeds it before its next answer on this site anyway.
        logger.exception("re-embedding the FAQ of site %s failed", site_id)
    finally:
        close_old_connections()
