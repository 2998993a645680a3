from __future__ import annotations

import hashlib
import json

from django.db import models

from chatbot.sites.models import Site
from intents.hybrid import embedded_texts
from intents.types import FaqDocument


class FaqEntry(models.Model):
    """A question the bot can answer, in several phrasings, with its embedding.

    The embedding holds one float32 row per embedded text (`intents.hybrid.embedded_texts`: the
    question, each alternative, the answer and each of its sentences), computed by the worker's
    embedding model; `embedded_hash` says which texts it was computed from, so an edited entry is
    re-embedded before it is searched again.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="faq_entries")
    question = models.CharField(max_length=500)
    alternatives = models.JSONField(default=list, blank=True, help_text="Other ways customers ask it.")
    answer = models.TextField()
    tags = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, default="en")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=300, blank=True, editable=False)
    embedded_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"
        ordering = ["site_id", "id"]
        indexes = [models.Index(fields=["site", "is_active"])]

    def __str__(self) -> str:
        return self.question

    @property
    def phrasings(self) -> list[str]:
        return [self.question, *[a for a in self.alternatives if isinstance(a, str) and a.strip()]]

    def as_document(self) -> FaqDocument:
        """The entry as the retriever sees it."""
        return FaqDocument(self.pk, self.question, self.answer, tuple(self.phrasings[1:]))

    def embedded_texts(self) -> list[str]:
        return embedded_texts(self.as_document())

    def content_hash(self) -> str:
        """Hash of the texts that are embedded; changes exactly when re-embedding is needed."""
        return hashlib.sha256(json.dumps(self.embedded_texts(), ensure_ascii=False).encode()).hexdigest()
