"""Any change to an FAQ entry (admin, console, import) marks its site's index as stale; an edit
through the services also announces itself (`faq_edited`), and the reply engine re-embeds."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site

# A site's FAQ was edited through the services (console, import) and the change committed; sent
# with `site_id`. chatbot.replies listens and re-embeds the changed entries at once.
faq_edited = Signal()


@receiver(post_save, sender=FaqEntry)
@receiver(post_delete, sender=FaqEntry)
def _faq_changed(sender: type[FaqEntry], instance: FaqEntry, **_: Any) -> None:
    Site.objects.filter(pk=instance.site_id).update(faq_version=F("faq_version") + 1)
