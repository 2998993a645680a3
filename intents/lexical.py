"""Lexical retrieval: BM25 (`bm25s`) over each FAQ entry's question, alternatives and answer.

Dense retrieval matches meaning; BM25 matches the exact words a customer uses that an encoder
blurs: product names, "Klarna", "iDEAL", "E27". The hybrid index fuses both.

Words are a language's own (`words_for`): English words with their endings stripped; Chinese,
written without spaces, is segmented by jieba, and every two-character window of it is a term too,
so a word jieba cuts wrongly ("退货运费" as 退 / 货运 / 运费) still matches on its characters. A
site's own names (`Site.segmentation_terms`: brands, products, payment methods) are cut out whole
before jieba sees the text and are never split into pieces, so "奥斯陆沙发" does not match every
question about a 沙发.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import bm25s
import jieba
import numpy as np
import numpy.typing as npt

from intents.languages import CHINESE, has_han
from intents.words import content_stems

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


class Words(Protocol):
    """A language's words, as retrieval counts them."""

    def lexical(self, text: str) -> list[str]:
        """The terms BM25 indexes and searches for."""
        ...

    def content(self, text: str, *, all_words: bool = False) -> set[str]:
        """The words of a question that must be found in an entry that answers it (`all_words`: the
        set an entry offers to find them in)."""
        ...


class EnglishWords:
    def lexical(self, text: str) -> list[str]:
        return lexical_tokens(text)

    def content(self, text: str, *, all_words: bool = False) -> set[str]:
        return content_stems(text, all_words=all_words)


T = TypeVar("T")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]+")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
# Words and characters that tell no FAQ entry from another: particles, pronouns, question words.
CHINESE_STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        """
    的 了 吗 呢 吧 啊 呀 哦 嘛 么 哈 呗 啦 喔 噢 哎 嗯 亲 请 请问 问 一下 下 麻烦 谢谢 你好 您好 在 吗
    我 你 您 他 她 它 我们 你们 他们 咱们 这 那 这个 那个 这些 那些 这样 那样 这里 那里 哪 哪个 哪些 哪里
    是 有 和 与 及 或 或者 就 都 也 还 又 要 想 会 能 可以 可 吗 么 什么 怎么 怎么样 怎样 如何 为什么 多少 几
    一个 个 些 点 得 地 着 过 把 被 给 让 对 从 到 跟 为 于 以 而 但 但是 如果 的话 呢 吧 呀 啥 咋 么 呐
    """,
    )
)
_PARTICLES = frozenset("的了吗呢吧啊呀哦嘛么哈呗啦")


@functools.cache
def _jieba() -> jieba.Tokenizer:
    """One jieba tokenizer per process, with its default dictionary only: a site's names are cut out
    before it sees the text, so no site's dictionary leaks into another's."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def jieba_words(text: str, *, search: bool = False) -> list[str]:
    """jieba's words of `text` (`search`: also the shorter words inside long ones, as for a search index)."""
    return list(_jieba().cut_for_search(text) if search else _jieba().cut(text))


def word_boundaries(text: str) -> set[int]:
    """The offsets where jieba's words of `text` start and end: a name found inside another word is not
    that name (适宜家用 holds 宜家, 北京东路 holds 京东)."""
    offsets = {0}
    position = 0
    for word in _jieba().cut(text, HMM=False):
        position += len(word)
        offsets.add(position)
    return offsets


class NameFinder(Generic[T]):
    """Finds names in a text, each standing for an item: names in Latin letters as whole words in any
    case, Chinese ones as whole jieba words (`word_boundaries`), the longest first and never
    overlapping."""

    def __init__(self, named: Iterable[tuple[str, T]]) -> None:
        self._items = {name.lower(): item for name, item in named if name}
        latin = sorted((n for n in self._items if not has_han(n)), key=len, reverse=True)
        self._chinese = sorted((n for n in self._items if has_han(n)), key=len, reverse=True)
        alternatives = "|".join(re.escape(name) for name in latin)
        self._latin = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE) if latin else None
        )

    def find(self, text: str) -> list[tuple[int, str, T]]:
        """(offset, the name as written, its item) of every name found, in the order of the text."""
        found = [(m.start(), m.group(0)) for m in self._latin.finditer(text)] if self._latin is not None else []
        if self._chinese and has_han(text):
            boundaries = word_boundaries(text)
            taken: set[int] = set()
            for name in self._chinese:
                for match in re.finditer(re.escape(name), text):
                    span = set(range(match.start(), match.end()))
                    if match.start() in boundaries and match.end() in boundaries and not span & taken:
                        found.append((match.start(), name))
                        taken |= span
        return [(offset, written, self._items[written.lower()]) for offset, written in sorted(found)]


SYNONYMS_ZH = Path(__file__).parent / "data" / "synonyms_zh.json"


@functools.cache
def _chinese_synonyms() -> tuple[re.Pattern[str], dict[str, str]]:
    """Customers' words for the things every shop's FAQ names (邮费 and 快递费 for 运费, 坏了 and 碎了 for
    损坏), each mapped to one word, so a question and an entry that say it differently still match:
    keyword search's most common miss (`intents/data/synonyms_zh.json`, first word of each group)."""
    groups = json.loads(SYNONYMS_ZH.read_text(encoding="utf-8"))
    canonical = {variant: group[0] for group in groups for variant in group[1:]}
    pattern = re.compile("|".join(re.escape(v) for v in sorted(canonical, key=len, reverse=True)))
    return pattern, canonical


class ChineseWords:
    """Simplified Chinese, segmented by jieba, with the site's own names kept whole and customers'
    words for common things read as one (`synonyms_zh.json`)."""

    def __init__(self, terms: Sequence[str] = ()) -> None:
        names = sorted({term.strip().lower() for term in terms if term.strip()}, key=len, reverse=True)
        self._names = re.compile("|".join(re.escape(name) for name in names)) if names else None

    def _pieces(self, text: str) -> list[tuple[str, bool]]:
        """The text cut at the site's names, synonyms read as one word between them: (piece, is a name)."""
        text = text.lower()
        if self._names is None:
            return [(_synonyms_unified(text), False)]
        pieces: list[tuple[str, bool]] = []
        position = 0
        for match in self._names.finditer(text):
            pieces += [(_synonyms_unified(text[position : match.start()]), False), (match.group(), True)]
            position = match.end()
        return [*pieces, (_synonyms_unified(text[position:]), False)]

    def _words(self, pieces: list[tuple[str, bool]]) -> list[str]:
        words: list[str] = []
        for piece, is_name in pieces:
            if is_name:
                words.append(piece)
                continue
            for word in _jieba().cut(piece):
                word = word.strip()
                if not word or word in CHINESE_STOPWORDS:
                    continue
                if _HAN.search(word):
                    words.append(word)
                else:
                    words += lexical_tokens(word)
        return words

    def lexical(self, text: str) -> list[str]:
        pieces = self._pieces(text)
        terms = self._words(pieces)
        for piece, is_name in pieces:
            if is_name:
                continue
            for run in _HAN_RUN.findall(piece):
                terms += [
                    f"#{run[i : i + 2]}"
                    for i in range(len(run) - 1)
                    if run[i : i + 2] not in CHINESE_STOPWORDS and not _PARTICLES & set(run[i : i + 2])
                ]
        return terms

    def content(self, text: str, *, all_words: bool = False) -> set[str]:
        words = set(self._words(self._pieces(text)))
        if not all_words:
            return words
        # What an entry offers: its words, and every stretch of its text up to four characters long,
        # so a question's word counts as found wherever the entry has it, however jieba cut the entry.
        stretches = {
            run[i : i + n]
            for run in _HAN_RUN.findall(text.lower())
            for n in (1, 2, 3, 4)
            for i in range(len(run) - n + 1)
        }
        return words | stretches


def _synonyms_unified(text: str) -> str:
    pattern, canonical = _chinese_synonyms()
    return pattern.sub(lambda match: canonical[match.group()], text)


def words_for(language: str, terms: Sequence[str] = ()) -> Words:
    """The words of `language` (`zh-hans`: with the site's names kept whole); English otherwise."""
    return ChineseWords(terms) if language == CHINESE else EnglishWords()


class LexicalIndex:
    """BM25 scores of a query against every document (one document per FAQ entry)."""

    def __init__(self, documents: Sequence[str], tokens: Callable[[str], list[str]] = lexical_tokens) -> None:
        self._count = len(documents)
        self._tokens = tokens
        self._retriever = bm25s.BM25()
        corpus = [tokens(text) or ["_"] for text in documents]
        if corpus:
            self._retriever.index(corpus, show_progress=False)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        if not self._count:
            return np.zeros(0, dtype=np.float32)
        vocabulary = self._retriever.vocab_dict
        tokens = [token for token in self._tokens(query) if token in vocabulary]
        if not tokens:
            return np.zeros(self._count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
