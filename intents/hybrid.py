"""Hybrid FAQ retrieval: dense and lexical evidence, fused by a small learned reranker.

A customer's question rarely repeats an FAQ question. Each entry is therefore matched in several
ways at once:
- dense, against every phrasing (question and alternatives), the whole answer, and each answer
  sentence (a yes/no question about a detail is often closest to one sentence of the answer);
- lexical, BM25 over the entry's text (`intents.lexical`);
- coverage: how many of the question's content words the entry's text has at all ("Do you sell
  paint?" shares the shape of "Do you sell gift cards?", but not the word that matters).

A logistic regression over these features (`Reranker`) turns them into the probability that the
entry answers the question: the score the gate compares with its threshold. Default weights ship
here (fit on the demo shop's labelled tuning questions and alternatives, see `bench/answers/`);
`gate_tune` fits a site's own from its labelled questions.

A question that names another company ("Does H&M Home do free returns?", "淘宝退款一般几天到账") is
answered only by an entry that speaks of that company (`intents.companies`); every other entry scores 0.

Off-topic questions (`OffTopicModel`): a logistic regression, fit when the index is built, tells
the site's own questions (its phrasings and answer sentences) from a generic corpus of messages no
shop answers (`intents/data/off_topic_en.json`); its probability is the gate's `oos_probability`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from intents.companies import CompanyNames, company_names
from intents.embeddings import Embedder, Vectors
from intents.languages import CHINESE, ENGLISH
from intents.lexical import ChineseWords, EnglishWords, LexicalIndex, Words
from intents.offers import ChineseFaqVocabulary, EntryWords, FaqVocabulary, thing_asked
from intents.places import PlaceNames, place_names
from intents.retrieval import Match
from intents.types import FaqDocument
from intents.words import sentences, tokens

FEATURES = (
    "dense_phrasing",
    "dense_answer",
    "dense_sentence",
    "lexical",
    "lexical_log",
    "dense_phrasing_gap",
    "dense_sentence_gap",
    "dense_answer_gap",
    "uncovered",
    "covered_share",
)
# Per language: messages no shop answers, the negatives of each site's off-topic model.
OFF_TOPIC_CORPORA = {
    ENGLISH: Path(__file__).parent / "data" / "off_topic_en.json",
    CHINESE: Path(__file__).parent / "data" / "off_topic_zh.json",
}
VERBATIM = 0.95  # a query this close (cosine) to one of an entry's phrasings is that phrasing
ENGLISH_WORDS = EnglishWords()


def answer_sentences(answer: str) -> list[str]:
    return [s for s in sentences(answer) if len(s) > 3]


def embedded_texts(document: FaqDocument) -> list[str]:
    """What is embedded for one entry, in this order: its phrasings, its answer, its answer's sentences."""
    return [*document.phrasings, document.answer, *answer_sentences(document.answer)]


FINE_TUNED = " (fine-tuned)"


def encoder_name(model_name: str, *, fine_tuned: bool = False) -> str:
    """An encoder as rerankers record what they were fit over: the last part of its path or hub id
    ("multilingual-e5-small", "all-MiniLM-L6-v2", "character-ngrams-v1"; a moved folder is the same
    encoder), and whether it is a site's own fine-tuned copy of it. A site encoder trained again
    (`encoder_finetune` without `--tune`) is the same; the base model is not."""
    return Path(model_name).name + (FINE_TUNED if fine_tuned else "")


@dataclass(frozen=True)
class Reranker:
    """Logistic-regression weights over `FEATURES`, fit over one encoder's scores (`encoder`, an
    `encoder_name`; "" where not recorded): another encoder's cosines lie elsewhere."""

    weights: tuple[float, ...]
    bias: float
    encoder: str = ""

    def probability(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        logits = features @ np.asarray(self.weights) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    def fits(self, encoder: str) -> bool:
        """Whether these weights were fit over `encoder` (an `encoder_name`), or it was not recorded."""
        return not self.encoder or self.encoder == encoder

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias}
        if self.encoder:
            data["encoder"] = self.encoder
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Reranker:
        features = data.get("features")
        weights = data.get("weights")
        bias = data.get("bias")
        encoder = data.get("encoder", "")
        if features != list(FEATURES) or not isinstance(weights, list) or not isinstance(bias, (int, float)):
            raise ValueError("reranker weights do not match this version's features")
        if not isinstance(encoder, str):
            raise ValueError("a reranker's encoder is a name")
        return cls(tuple(float(w) for w in weights), float(bias), encoder)

    @classmethod
    def fit(
        cls, features: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], *, c: float = 1.0, encoder: str = ""
    ) -> Reranker:
        """Weights fit on `features` (rows of `FEATURES`) and `labels`, over `encoder` (an `encoder_name`)."""
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=5000).fit(features, labels)
        return cls(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), encoder)


# Fit with `python bench/answers/fit_reranker.py` on the demo shop's gate-tuning questions
# (chatbot/knowledge/demo_faq_questions.json) and the generic off-topic corpus; never on the
# held-out answer sets.
DEFAULT_RERANKER = Reranker(
    weights=(3.8036, 3.7341, 2.6952, 0.3937, 1.5352, 3.6308, 2.3975, 2.6025, 0.0272, 0.6124),
    bias=-8.1512,
)
# Simplified Chinese, over character n-gram vectors (`CharacterNgramEmbedder`) and jieba words with the
# shipped synonyms: fit with
# `fit_reranker.py --language zh-hans` on chatbot/knowledge/demo_faq_questions_zh.json and the Chinese
# off-topic corpus.
DEFAULT_RERANKER_ZH = Reranker(
    weights=(2.0220, 0.6898, 0.5784, 3.1199, 2.6764, 3.5196, 1.8444, 1.4874, -0.3939, 1.0681),
    bias=-9.4538,
)
# Simplified Chinese over multilingual-e5-small as it ships (`CHATBOT_EMBEDDING_MODEL_ZH=e5-small`, not
# fine-tuned): `fit_reranker.py --language zh-hans --model var/models/multilingual-e5-small`. Its cosines
# are high for any two Chinese texts, so the n-gram weights would answer most off-topic questions with it.
DEFAULT_RERANKER_ZH_E5 = Reranker(
    weights=(-1.6054, -2.0639, -2.1132, 4.3140, 3.6003, 0.9943, 0.5995, 0.6559, -0.9823, -0.1180),
    bias=-5.5944,
    encoder="multilingual-e5-small",
)
DEFAULT_RERANKERS: dict[str, Reranker] = {ENGLISH: DEFAULT_RERANKER, CHINESE: DEFAULT_RERANKER_ZH}
# Where a language's encoder has weights of its own (by `encoder_name` of the base model).
ENCODER_RERANKERS: dict[tuple[str, str], Reranker] = {(CHINESE, "multilingual-e5-small"): DEFAULT_RERANKER_ZH_E5}


def default_reranker(language: str, encoder: str = "") -> Reranker:
    """The shipped reranker for `language` over `encoder` (an `encoder_name`, or a model's path): the
    one fit over that model (a site's fine-tuned copy of it included) where there is one, else the
    language's (the English one where none was fit for it)."""
    base = encoder_name(encoder).removesuffix(FINE_TUNED)
    return ENCODER_RERANKERS.get((language, base)) or DEFAULT_RERANKERS.get(language, DEFAULT_RERANKER)


@dataclass
class OffTopicModel:
    """The probability that a question is about nothing the site answers."""

    weights: npt.NDArray[np.float32]
    bias: float

    @classmethod
    def fit(cls, site_vectors: Vectors, off_topic_vectors: Vectors, *, c: float = 3.0) -> OffTopicModel | None:
        if not len(site_vectors) or not len(off_topic_vectors):
            return None
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([site_vectors, off_topic_vectors])
        y = np.r_[np.zeros(len(site_vectors)), np.ones(len(off_topic_vectors))]
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, y)
        return cls(np.asarray(model.coef_[0], dtype=np.float32), float(model.intercept_[0]))

    def probability(self, vector: Vectors) -> float:
        return float(1.0 / (1.0 + np.exp(-(float(vector @ self.weights) + self.bias))))


def off_topic_corpus(language: str = ENGLISH) -> list[str]:
    """The generic off-topic messages in `language` shipped with the package; none for a language
    without a corpus (a site in that language then has no off-topic model)."""
    path = OFF_TOPIC_CORPORA.get(language)
    if path is None or not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [str(text) for text in data]


@dataclass
class HybridIndex:
    """Every entry's dense vectors, its BM25 document and its words; `retrieve` scores them all."""

    documents: list[FaqDocument]
    phrasings: Vectors
    phrasing_owner: npt.NDArray[np.int64]
    answers: Vectors
    sentences: Vectors
    sentence_owner: npt.NDArray[np.int64]
    lexical: LexicalIndex
    stems: list[frozenset[str]]
    reranker: Reranker = DEFAULT_RERANKER
    off_topic: OffTopicModel | None = None
    words: Words = ENGLISH_WORDS  # the language's words: BM25 terms and the coverage check
    # Other companies a question may name: an entry that does not speak of the one named cannot answer it.
    companies: CompanyNames | None = field(default_factory=company_names)
    # Places a question names and the FAQ does not ("Geneva"), searched for as their country and region too.
    places: PlaceNames | None = field(default_factory=place_names)
    site_text: str = ""  # every entry's text, lower-cased: the places the FAQ names itself
    # The FAQ's words, so that "do you sell paint?" is not answered by an FAQ that never says paint.
    vocabulary: FaqVocabulary | ChineseFaqVocabulary | None = None
    # Each entry's words (English), so that "does the London showroom have a café?" is not answered by
    # an entry that speaks of the showroom but never of a café; and the site's own name, never the
    # thing asked about ("who founded Lumen & Loom?").
    entry_words: list[EntryWords] = field(default_factory=list)
    own_words: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        documents: Sequence[FaqDocument],
        embedder: Embedder,
        *,
        reranker: Reranker = DEFAULT_RERANKER,
        off_topic_vectors: Vectors | None = None,
        words: Words = ENGLISH_WORDS,
        own_names: Sequence[str] = (),
    ) -> HybridIndex:
        texts = [text for document in documents for text in embedded_texts(document)]
        vectors = embedder.encode(texts) if texts else np.zeros((0, embedder.dimension), dtype=np.float32)
        return cls.from_vectors(
            [(document, vectors_of) for document, vectors_of in _split(documents, vectors)],
            reranker=reranker,
            off_topic_vectors=off_topic_vectors,
            words=words,
            own_names=own_names,
        )

    @classmethod
    def from_vectors(
        cls,
        entries: Sequence[tuple[FaqDocument, Vectors]],
        *,
        reranker: Reranker = DEFAULT_RERANKER,
        off_topic_vectors: Vectors | None = None,
        words: Words = ENGLISH_WORDS,
        own_names: Sequence[str] = (),
    ) -> HybridIndex:
        """An index from each entry's vectors of `embedded_texts(document)`, in that order; `own_names`
        (the site's name and its own names) are never taken for another company."""
        documents: list[FaqDocument] = []
        phrasings: list[Vectors] = []
        phrasing_owner: list[int] = []
        answers: list[Vectors] = []
        sentences: list[Vectors] = []
        sentence_owner: list[int] = []
        dimension = next((v.shape[1] for _, v in entries if v.ndim == 2 and len(v)), 0)
        for document, vectors in entries:
            count = len(document.phrasings)
            expected = len(embedded_texts(document))
            if len(vectors) != expected:
                raise ValueError(f"FAQ entry {document.id}: {len(vectors)} vectors for {expected} texts")
            position = len(documents)
            documents.append(document)
            phrasings.append(vectors[:count])
            phrasing_owner += [position] * count
            answers.append(vectors[count : count + 1])
            sentences.append(vectors[count + 1 :])
            sentence_owner += [position] * (len(vectors) - count - 1)
        empty = np.zeros((0, dimension), dtype=np.float32)
        site_texts = [d.text for d in documents]
        site_text = " ".join(site_texts).lower()
        index = cls(
            documents=documents,
            phrasings=np.vstack(phrasings) if phrasings else empty,
            phrasing_owner=np.asarray(phrasing_owner, dtype=np.int64),
            answers=np.vstack(answers) if answers else empty,
            sentences=np.vstack(sentences) if sentences else empty,
            sentence_owner=np.asarray(sentence_owner, dtype=np.int64),
            lexical=LexicalIndex(site_texts, words.lexical),
            stems=[frozenset(words.content(text, all_words=True)) for text in site_texts],
            site_text=site_text,
            vocabulary=_vocabulary(words, site_text),
            companies=company_names().without(own_names),
            entry_words=[EntryWords(text) for text in site_texts] if isinstance(words, EnglishWords) else [],
            own_words=frozenset(word for name in own_names for word in tokens(name)),
            reranker=reranker,
            words=words,
        )
        if off_topic_vectors is not None and documents:
            own = np.vstack([index.phrasings, index.sentences])
            index.off_topic = OffTopicModel.fit(own, off_topic_vectors)
        return index

    def __len__(self) -> int:
        return len(self.documents)

    def features(self, query: str, vector: Vectors) -> npt.NDArray[np.float64]:
        """One row of `FEATURES` per entry."""
        count = len(self.documents)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        phrasing = _best_per_owner(self.phrasings @ vector, self.phrasing_owner, count)
        answer = (self.answers @ vector).astype(np.float64)
        sentence = _best_per_owner(self.sentences @ vector, self.sentence_owner, count)
        places = self.places.hints(query, self.site_text) if self.places is not None else []
        # A place the FAQ does not name is searched for as its country and region too: "Geneva" as
        # Switzerland, "维也纳" as 奥地利 and 欧盟; and an entry naming either has the place.
        searched = " ".join([query, *(word for _, words in places for word in words)])
        lexical = self.lexical.scores(searched).astype(np.float64)
        top_lexical = float(lexical.max()) if count else 0.0
        asked = self.words.content(query)
        stands_for = [(self.words.content(name), self.words.content(" ".join(words))) for name, words in places]
        uncovered = np.array(
            [
                len(asked - stems - {word for name, words in stands_for if words & stems for word in name})
                for stems in self.stems
            ],
            dtype=np.float64,
        )
        covered = 1.0 - uncovered / max(len(asked), 1)
        return np.stack(
            [
                phrasing,
                answer,
                sentence,
                lexical / top_lexical if top_lexical > 0 else lexical,
                np.log1p(lexical),
                phrasing - phrasing.max(),
                sentence - sentence.max(),
                answer - answer.max(),
                np.minimum(uncovered, 3.0),
                covered,
            ],
            axis=1,
        )

    def training_rows(
        self, texts: Sequence[str], vectors: Vectors, answers: Sequence[set[int]]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Features and labels to fit a `Reranker` on: one row per (question, entry), labelled 1 where
        the entry is among the question's answers (document ids; empty for an off-topic question)."""
        ids = np.asarray([document.id for document in self.documents])
        rows = [self.features(text, vector) for text, vector in zip(texts, vectors, strict=True)]
        labels = [np.isin(ids, list(answer)).astype(np.int64) for answer in answers]
        return np.vstack(rows), np.concatenate(labels)

    def retrieve(self, query: str, vector: Vectors, k: int = 3) -> list[Match]:
        """The `k` entries most likely to answer `query`, best first, scored by the reranker."""
        if not self.documents:
            return []
        features = self.features(query, vector)
        probabilities = self.reranker.probability(features)
        # A question the site itself wrote down as a phrasing of an entry is that entry's, whatever
        # the reranker (fit on paraphrases) makes of the rest of the entry.
        phrasing = features[:, FEATURES.index("dense_phrasing")]
        probabilities = np.where(phrasing >= VERBATIM, np.maximum(probabilities, phrasing), probabilities)
        # "Does H&M Home do free returns?" is not answered by "Are returns free?": about another company,
        # only an entry that speaks of it answers.
        elsewhere = self.companies.unanswerable(query, self.documents) if self.companies is not None else None
        if elsewhere is not None:
            probabilities = np.where(elsewhere, 0.0, probabilities)
        if self._asks_for_what_the_faq_never_names(query):
            probabilities = np.zeros_like(probabilities)
        elif self.entry_words and (thing := thing_asked(query, self.own_words)) is not None:
            # "Is there a café inside the Amsterdam store?": only an entry that names the thing answers.
            probabilities = np.where([not words.names(thing) for words in self.entry_words], 0.0, probabilities)
        order = np.argsort(-probabilities)[:k]
        return [Match(self.documents[i], float(probabilities[i])) for i in order]

    def _asks_for_what_the_faq_never_names(self, query: str) -> bool:
        """ "Do you offer a military discount?" against an FAQ without the word military. A place
        ("a store in Vienna?") is not such a thing: the FAQ's list of places answers it."""
        if self.vocabulary is None:
            return False
        unnamed = self.vocabulary.unnamed_things(query)
        if unnamed and self.places is not None:
            unnamed -= {word.lower() for place in self.places.named(query) for word in place.name.split()}
        return bool(unnamed)

    def search_text(self, query: str) -> str:
        """The query with each place the FAQ does not name followed by its country and region
        ("I live in Geneva (Switzerland)"): what is embedded to search with."""
        return self.places.annotated(query, self.site_text) if self.places is not None else query

    def off_topic_probability(self, vector: Vectors) -> float | None:
        if self.off_topic is None:
            return None
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if len(self.phrasings) and float(np.max(self.phrasings @ vector)) >= VERBATIM:
            return 0.0  # one of the site's own phrasings
        return self.off_topic.probability(vector)


def _vocabulary(words: Words, text: str) -> FaqVocabulary | ChineseFaqVocabulary | None:
    """The FAQ's words in its language, for the check of things it never names (English, Chinese)."""
    if isinstance(words, EnglishWords):
        return FaqVocabulary(text)
    if isinstance(words, ChineseWords):
        return ChineseFaqVocabulary(text)
    return None


def _best_per_owner(
    scores: npt.NDArray[np.float32], owner: npt.NDArray[np.int64], count: int
) -> npt.NDArray[np.float64]:
    best = np.full(count, -1.0, dtype=np.float64)
    if len(scores):
        np.maximum.at(best, owner, scores.astype(np.float64))
    return best


def _split(documents: Sequence[FaqDocument], vectors: Vectors) -> list[tuple[FaqDocument, Vectors]]:
    out = []
    row = 0
    for document in documents:
        count = len(embedded_texts(document))
        out.append((document, vectors[row : row + count]))
        row += count
    return out
