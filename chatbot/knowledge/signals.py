"""Any change to an FAQ entry (admin, console, import) marks its site's index as stale."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site


@receiver(post_save, sender=FaqEntry)
@receiver(post_delete, sender=FaqEntry)
def _faq_changed(sender: type[FaqEntry], instance: FaqEntry, **_: Any) -> None:
    Site.objects.filter(pk=instance.site_id).update(faq_version=F("faq_version") + 1)
