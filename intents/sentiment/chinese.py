"""Sentiment of Chinese customer messages: SnowNLP's review model read through a customer-service
cue lexicon.

SnowNLP (MIT) ships a naive-Bayes sentiment model trained on Chinese product reviews and loads
offline. On customer-service chat it is not enough by itself: it has no neutral class, and it
scores most plain questions ("请问有卖枕芯吗": 0.05) as if they were angry reviews. So the label
comes from cue words, the way people write to a shop, and SnowNLP only sets how strong a
negative or positive message is:

- a message with no cue is neutral, whatever SnowNLP says (questions, order numbers, "好的");
- strong negative cues (垃圾, 失望, 气死, 坑人, 投诉...) and weak ones, a problem stated as a fact
  (没收到, 发错, 碎了, 打不开...); a question with only weak cues is a question about a problem,
  not a complaint ("地址写错了能改吗");
- positive cues (谢谢, 满意, 好评, 很喜欢...); negated ones ("不满意", "不推荐") are negative;
- when both appear, what follows the last turn of the sentence (但是, 可惜, 就是, 结果...) decides;
  sarcasm ("呵呵，真是好极了，等了两周还是没到") has the negative facts outweigh the praise.

The score runs from -1 to 1 like VADER's compound, on the same scale the complaint severity and
escalation thresholds expect: one weak negative cue is about -0.45, a strong cue with a fact about
-0.7, and anger with intensifiers and "！！！" reaches -1. Measured on 214 Chinese messages written
and labelled for it (bench/sentiment/zh_messages.jsonl, held out; the cues were tuned only on
bench/sentiment/zh_dev.jsonl): see the README, *Languages*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from intents.sentiment.scorers import SentimentScore


def _cues(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words))


# Anger, disappointment and accusations: a complaint however it is phrased.
STRONG_NEGATIVE = _cues(
    r"太差|很差|真差|差劲|差评|垃圾|坑人|坑爹|坑|骗子|骗人|欺诈|离谱|过分|太过分|失望|不满|生气|气死|愤怒|火大",
    r"无语|醉了|呵呵|恶心|烂|一言难尽|糟糕|糟透|受不了|忍无可忍|什么破|破质量|投诉|律师|消协|12315|起诉|曝光",
    r"再也不|最后一次|不会再|不推荐|别买|不值|态度(?:太)?(?:差|恶劣)|恶劣|敷衍|不客气|没礼貌|答非所问|复制粘贴",
    r"摆设|早干嘛|什么意思|到底|有没有在听|这也叫|怎么还|又是|动都不动|要死|不敢恭维|跟描述完全不符|差太多",
    r"无缘无故|白等|危险|烫伤|冒烟|不管|多扣|扣了两|重复扣",
)
# A problem stated as a fact: a complaint unless it is asked about.
WEAK_NEGATIVE = _cues(
    r"没收到|收不到|还没到|没到|还没|没人|不理|没回|没通知|不通知|没消息|没更新|没动|才到|卡在|丢了|弄丢|拿走",
    r"扔在|放楼下|发错|寄错|做错|开错|少发|漏发|少了|缺了|两笔|两次钱|不给|拖",
    r"打不开|打不通|付不了|登录不了|登不上|用不了|不亮|拧不紧|一直转圈|很卡|特别卡|闪退|报错|失败|错误",
    r"坏了|破了|碎了|碎|裂|掉漆|起球|褪色|缩水|发霉|划痕|有个洞|线头|粗糙|掉毛|味道|歪|晃|闪|松了",
    r"慢|贵|降价|一般般|发货了|取消了|第二次|第三次|好几次|好几遍|多次|一个月|两周|半个小时|半天|等了",
)
POSITIVE = _cues(
    r"谢谢|感谢|多谢|辛苦|好评|满意|喜欢|不错|很好|挺好|真好|太好了|好极了|好看|漂亮|舒服|暖和|好用|棒|赞",
    r"推荐|开心|惊喜|完美|很值|划算|物超所值|性价比|专业|耐心|及时|很快|好快|快(?!递)|解决了|处理好|完好|回购|还来",
    r"还会买|五星|信任|用心|贴心|周到|细致|高级|聪明|愉快|放心|出片|顺利|没问题|清楚|温馨|香",
)
SNOWNLP_MAX_CHARS = 300
INTENSIFIERS = _cues(r"太|非常|特别|超级|极其|简直|透顶|死了|！！|!!|？？|\?\?")
# A question: what follows is asked, not claimed.
_QUESTION = re.compile(
    r"[吗嘛？?]\s*$|^请问|怎么(?!还)|如何|能不能|可不可以|可以.{0,12}吗|多少|多久|几天|哪里|什么时候"
)
# The turn of a sentence: the clause after the last one says what the customer means.
_TURN = re.compile(r"但是|但|可惜|就是|不过|只是|结果|可是")
_NEGATED_POSITIVE = re.compile(r"不(?:满意|推荐|喜欢|值|好用|专业|及时)")


def _blank(pattern: re.Pattern[str], text: str) -> tuple[int, str]:
    """How many times `pattern` matches, and the text with those matches blanked out."""
    found = 0

    def blank(match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        return " " * len(match.group())

    rest = pattern.sub(blank, text)
    return found, rest


def cue_counts(text: str) -> tuple[int, int, int]:
    """(strong negative, weak negative, positive) cues in `text`; a cue counts once, the longest
    reading first (so "不满意" is negative, never also the positive "满意")."""
    negated, rest = _blank(_NEGATED_POSITIVE, text)
    strong, rest = _blank(STRONG_NEGATIVE, rest)
    weak, rest = _blank(WEAK_NEGATIVE, rest)
    positive, _ = _blank(POSITIVE, rest)
    return strong + negated, weak, positive


def cue_label(text: str) -> tuple[str, float, int]:
    """The label the cues give, the negative strength (a strong cue 1, a weak one 0.5) or the
    number of positive cues behind it, and the intensifiers."""
    strong, weak, positive = cue_counts(text)
    intensity = len(INTENSIFIERS.findall(text))
    negative = strong + 0.5 * weak
    if negative and positive:
        turns = list(_TURN.finditer(text))
        if turns:
            after = cue_counts(text[turns[-1].end() :])
            after_negative, after_positive = after[0] + 0.5 * after[1], after[2]
            if after_negative != after_positive:
                label = "negative" if after_negative > after_positive else "positive"
                return label, negative if label == "negative" else positive, intensity
        label = "negative" if negative >= positive else "positive"
        return label, negative if label == "negative" else positive, intensity
    if strong or (weak and not _QUESTION.search(text)):
        return "negative", negative, intensity
    if positive:
        return "positive", positive, intensity
    return "neutral", 0.0, intensity


class ChineseSentimentScorer:
    """SnowNLP's review model behind the customer-service cues (see the module's docstring)."""

    name = "chinese:snownlp+cues"

    def __init__(self) -> None:
        # Importing SnowNLP loads its models (about 2 s); a process without Chinese never pays it.
        from snownlp import SnowNLP

        self._snow: Any = SnowNLP

    def positive_probability(self, text: str) -> float:
        """SnowNLP's probability that `text` is positive (0.5 for a text without Chinese words), read
        from its first `SNOWNLP_MAX_CHARS` characters: SnowNLP's segmenter takes seconds on a
        4,000-character message, and the cues, which set the label, still read all of it."""
        try:
            return float(self._snow(text[:SNOWNLP_MAX_CHARS]).sentiments)
        except (ZeroDivisionError, ValueError, KeyError):  # a text of punctuation or digits only
            return 0.5

    def score(self, texts: Sequence[str]) -> list[SentimentScore]:
        results = []
        for text in texts:
            label, strength, intensity = cue_label(text)
            p = self.positive_probability(text)
            if label == "negative":
                score = -min(1.0, 0.2 + 0.2 * strength + 0.15 * (1 - p) + 0.1 * intensity)
            elif label == "positive":
                score = min(1.0, 0.2 + 0.15 * strength + 0.15 * p + 0.05 * intensity)
            else:
                score = 0.15 * (2 * p - 1)
            results.append(_sentiment(label, score))
        return results


def _sentiment(label: str, score: float) -> SentimentScore:
    """A score with probabilities that follow it: the label gets (1 + |score|) / 2 and the rest is
    shared; not a calibrated distribution, like VADER's shares."""
    top = round((1 + abs(score)) / 2, 4)
    others = [name for name in ("negative", "neutral", "positive") if name != label]
    rest = round((1 - top) / 2, 4)
    return SentimentScore(label=label, score=round(score, 4), probabilities={label: top, **dict.fromkeys(others, rest)})
