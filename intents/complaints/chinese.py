"""Chinese complaint cues: the same taxonomy and severity rules as English, read from Chinese words.

The English category model embeds a complaint with MiniLM, an English model: Chinese text comes out
as noise there. A Chinese complaint's category is therefore read from cue words instead, the words
Chinese customers use for each category (`CATEGORY_CUES`): the category with the most cues wins,
the earlier one in `CATEGORY_CUES` among equals, and `other` when none matches. The detection and
severity cues (`COMPLAINT`, `LEGAL`, `SAFETY`, `LEAVING`, `REPEAT`) are read by
`intents.complaints.cues` beside the English ones, so `is_complaint` and `complaint_severity` work
the same for a message in either language. Measured on the Chinese messages of
bench/sentiment/zh_messages.jsonl (`bench/sentiment_zh.py`).
"""

from __future__ import annotations

import re

from intents.complaints.taxonomy import OTHER


def _cues(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words), re.IGNORECASE)


COMPLAINT = _cues(
    r"投诉|不满|失望|差评|太差|垃圾|坑人|骗|欺诈|离谱|过分|受不了|气死|无语|一言难尽",
    r"(?:还|一直|都|根本)没(?:有)?(?:到|收到|发货|送|回复|人理|人回)",
    r"多扣|扣了两|重复扣款|发错|寄错|少发|漏发|坏了|碎了|破损|质量(?:太|很)?差|不能用|用不了|打不开",
    r"态度(?:太)?(?:差|恶劣)|敷衍|没人(?:理|管|回)",
)
LEGAL = _cues(
    r"律师|起诉|法院|打官司|法律|消协|消费者协会|12315|工商|市场监管|拒付|曝光|找媒体|报警",
)
SAFETY = _cues(
    r"受伤|烫伤|烧伤|割伤|着火|起火|冒烟|漏电|触电|过敏|中毒|医院|危险|爆炸",
)
LEAVING = _cues(
    r"再也不|最后一次|不会再|取消会员|注销账号|销户|换一家|去别家|拉黑|不会推荐",
)
REPEAT = _cues(
    r"第[二三四五六2-6]次|又是|又一次|再次|好几次|好几遍|多次|一直|还是没|几天了|一周了|一个星期|一个月|两周|好几天",
)

# Per category, the words that say what a Chinese complaint is about (see the module docstring).
CATEGORY_CUES: dict[str, re.Pattern[str]] = {
    "account_access": _cues(r"登录|登不上|密码|账号|账户|验证码|注册"),
    "website_or_app": _cues(r"网站|网页|页面|app|闪退|卡顿|转圈|报错|404|购物车|结账"),
    "refund": _cues(r"退款|退钱|退给我|退了一半|全额退"),
    "billing": _cues(r"扣款|扣了|多扣|两笔|收费|运费|价格|太贵|贵了|发票|优惠码|包邮|降价|差价|付款失败|支付失败"),
    "cancellation": _cues(r"取消"),
    "lost_or_damaged_item": _cues(r"碎|压扁|压坏|破损|箱子破|湿了|是湿的|发霉|弄丢|丢了"),
    "delivery": _cues(
        r"没到|还没到|没收到|物流|快递|送货|配送|包裹|签收|发错|寄错|少发|漏发|发货|到货|送到|次日达|才到|寄到|换货"
    ),
    "product_defect": _cues(
        r"质量|坏|不亮|松了|拧不紧|起球|褪色|缩水|掉漆|歪|晃|划痕|洞|线头|粗糙|做工|掉毛|味道|闪|裂|尺寸|跟图片|跟描述|冒烟|烫伤|螺丝|说明书"
    ),
    "rude_or_unhelpful_service": _cues(
        r"客服|态度|敷衍|不理|机器人|自动回复|答非所问|复制粘贴|挂.{0,2}电话|没礼貌|不客气|有没有在听|说了好几遍|摆设"
    ),
    "waiting_time": _cues(r"排队|等了|等人工|半个小时|四十分钟|没人回复|没人回|都没回复|没回复|打不通|一直没人"),
    "booking": _cues(r"预约|预订|约好|约的"),
}


def chinese_category(text: str) -> tuple[str, float]:
    """The complaint category of a Chinese message and the share of all cue matches it had
    (0 for `other`)."""
    counts = {category: len(cues.findall(text)) for category, cues in CATEGORY_CUES.items()}
    total = sum(counts.values())
    if not total:
        return OTHER, 0.0
    best = max(counts, key=lambda category: counts[category])  # the first of equals, in dict order
    return best, round(counts[best] / total, 4)
