"""Lexical retrieval: BM25 (`bm25s`) over each FAQ entry's question, alternatives and answer.

Dense retrieval matches meaning; BM25 matches the exact words a customer uses that an encoder
blurs: product names, "Klarna", "iDEAL", "E27". The hybrid index fuses both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[a-z0-9]+")
# Words too common in customer questions to tell entries apart.
STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        """
    a an the i im me my we our you your it its is are was were be been do does did can could would will should
    to of in on for at by with from and or but if so that this there what whats how when where which who why
    any some please pls hi hello thanks thank just get got have has had not no yes
    """,
    )
)


def lexical_tokens(text: str) -> list[str]:
    """Lower-cased words without stopwords, with plural and verb endings stripped."""
    tokens = []
    for word in _WORD.findall(text.lower().replace("'", "")):
        if word in STOPWORDS:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if len(word) > 4 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        tokens.append(word)
    return tokens


class LexicalIndex:
    """BM25 scores of a query against every document (one document per FAQ entry)."""

    def __init__(self, documents: Sequence[str]) -> None:
        self._count = len(documents)
        self._retriever = bm25s.BM25()
        corpus = [lexical_tokens(text) or ["_"] for text in documents]
        if corpus:
            self._retriever.index(corpus, show_progress=False)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        if not self._count:
            return np.zeros(0, dtype=np.float32)
        vocabulary = self._retriever.vocab_dict
        tokens = [token for token in lexical_tokens(query) if token in vocabulary]
        if not tokens:
            return np.zeros(self._count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
