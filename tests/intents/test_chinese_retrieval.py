"""Chinese FAQ retrieval (`intents.lexical.ChineseWords` in the hybrid index): jieba words and
two-character windows, with a site's own names kept whole."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from intents.embeddings import CharacterNgramEmbedder
from intents.hybrid import HybridIndex, off_topic_corpus
from intents.languages import CHINESE, ENGLISH
from intents.lexical import ChineseWords, EnglishWords, LexicalIndex, words_for
from intents.types import FaqDocument
from tests.intents.generation.conftest import HashingEmbedder

SOFA_NAME = "奥斯陆沙发"
FAQ_ZH = [
    FaqDocument(1, "奥斯陆沙发有哪些颜色？", "奥斯陆沙发有燕麦色、墨绿色和炭灰色三种颜色。"),
    FaqDocument(2, "沙发怎么清洁？", "沙发套可以拆下来，用30度冷水机洗，不要烘干。", ("沙发脏了怎么洗",)),
    FaqDocument(3, "退货运费谁承担？", "欧盟和英国境内退货免费，我们提供预付退货标签。"),
    FaqDocument(4, "你们接受哪些付款方式？", "我们接受Visa、Mastercard、PayPal和Klarna。"),
]


def test_a_sites_name_stays_one_word_and_is_not_cut_into_pieces_that_match_everything() -> None:
    words = ChineseWords([SOFA_NAME])
    terms = words.lexical("奥斯陆沙发有现货吗")
    assert SOFA_NAME in terms
    assert "沙发" not in terms and "#沙发" not in terms
    # Without the name in the dictionary jieba cuts it, and 沙发 becomes a term of its own.
    assert "沙发" in ChineseWords().lexical("奥斯陆沙发有现货吗") or "#沙发" in ChineseWords().lexical(
        "奥斯陆沙发有现货吗"
    )


def test_a_question_about_sofas_in_general_is_not_matched_by_the_named_sofas_entry() -> None:
    words = ChineseWords([SOFA_NAME])
    index = LexicalIndex([f"{d.question} {' '.join(d.alternatives)} {d.answer}" for d in FAQ_ZH], words.lexical)
    scores = index.scores("沙发弄脏了该怎么清洗")
    assert scores.argmax() == 1
    assert scores[0] < scores[1] / 2


def test_a_word_jieba_cuts_wrongly_still_matches_on_its_characters() -> None:
    # jieba reads 退货运费 as 退 / 货运 / 运费; the windows 退货 and 运费 still find the entry.
    words = ChineseWords()
    assert "#退货" in words.lexical("退货运费谁出")
    index = LexicalIndex([f"{d.question} {d.answer}" for d in FAQ_ZH], words.lexical)
    assert index.scores("退货运费谁出").argmax() == 2


def test_particles_and_question_words_are_not_terms() -> None:
    terms = ChineseWords().lexical("请问你们可以用什么付款呢？")
    assert not {"请问", "你们", "可以", "什么", "呢", "#请问", "#你们"} & set(terms)
    assert "付款" in terms


def test_latin_words_in_a_chinese_question_are_english_words() -> None:
    assert "klarna" in ChineseWords().lexical("能用Klarna分期吗")


def test_an_entrys_text_offers_every_short_stretch_so_coverage_does_not_depend_on_segmentation() -> None:
    words = ChineseWords()
    offered = words.content("我们提供预付退货标签。", all_words=True)
    assert {"退货", "标签", "预付"} <= offered
    assert words.content("退货要标签吗") <= offered | {"要"}


def test_each_language_has_its_own_words() -> None:
    assert isinstance(words_for(CHINESE, [SOFA_NAME]), ChineseWords)
    assert isinstance(words_for(ENGLISH), EnglishWords)
    assert isinstance(words_for("fr"), EnglishWords)


@pytest.mark.parametrize(
    ("question", "expected"),
    [("沙发脏了可以洗吗", 2), ("退货要自己出运费吗", 3), ("可以用PayPal付钱吗", 4), ("奥斯陆沙发有灰色的吗", 1)],
)
def test_the_hybrid_index_finds_chinese_entries_by_their_words(question: str, expected: int) -> None:
    embedder = HashingEmbedder()
    index = HybridIndex.build(FAQ_ZH, embedder, words=ChineseWords([SOFA_NAME]))
    [best] = index.retrieve(question, embedder.encode([question])[0], k=1)
    assert best.document.id == expected


def test_a_language_without_an_off_topic_corpus_has_none() -> None:
    assert off_topic_corpus("xx") == []
    assert off_topic_corpus(ENGLISH)


def test_character_ngram_vectors_put_a_paraphrase_closer_than_another_question() -> None:
    embedder = CharacterNgramEmbedder()
    question, paraphrase, other = embedder.encode(["运费多少钱？", "寄过来运费要多少", "怎么重置密码？"])
    assert float(question @ paraphrase) > 0.3 > float(question @ other)
    assert abs(float(np.linalg.norm(question)) - 1.0) < 1e-5


def test_character_ngram_vectors_ignore_the_characters_every_question_has() -> None:
    embedder = CharacterNgramEmbedder()
    first, second = embedder.encode(["请问你们可以吗", "我的呢吧"])
    assert float(first @ second) == 0.0


def test_character_ngram_vectors_are_the_same_in_every_process() -> None:
    # Python's str hash differs per process; the stored FAQ vectors must not.
    slots = sorted(CharacterNgramEmbedder().encode(["退货"])[0].nonzero()[0].tolist())
    assert slots == sorted({zlib.crc32(gram.encode()) % 2048 for gram in ("退", "货", "退货")})
