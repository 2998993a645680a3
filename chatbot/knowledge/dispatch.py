"""Re-embedding a site's FAQ right after an edit, per settings.CHATBOT_DISPATCH, so the bot can
answer with a new or changed entry without waiting for a customer's question to trigger it."""

from __future__ import annotations

from chatbot.background import background_dispatch
from chatbot.knowledge.answering import faq_embed_stale, faq_index_get
from chatbot.sites.models import Site


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
    (inprocess) or right here (inline). Call after the change is committed. If it fails, the entry
    is saved all the same, and a worker re-embeds it before its next answer on this site."""
    background_dispatch(
        task="chatbot.knowledge.tasks.faq_embed",
        run=lambda site: faq_refresh(site_id=site),
        argument=site_id,
        what="faq-embed",
    )
