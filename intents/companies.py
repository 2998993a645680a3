"""Other companies a question names: "Does H&M Home do free returns?", "淘宝退款一般几天到账".

Such a question sounds like a shop question, and the entry it lands on ("Are returns free?",
"退款什么时候到账？") answers it about the wrong company. An entry can only answer a question about
another company when it speaks of that company: it names it ("do your bulbs work with IKEA
Tradfri?"), or, for a retailer, it speaks of competitors or other shops ("Amazon has it €10
cheaper, will you match it?" against "We don't match competitors' prices"). A question about the
company itself ("Does John Lewis price match other shops?") is answered only by an entry whose own
question or answer names it.

The names are a hand-written list (`intents/data/other_companies.json`): retailers and marketplaces,
carriers, airlines and other well-known firms, in English and Chinese. Names that are also plain
words (Next, Target, Apple) are not on it, nor are payment methods and messaging apps, which
customers name to ask about the shop itself ("can I pay with Alipay?").
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from intents.languages import has_han
from intents.lexical import NameFinder
from intents.types import FaqDocument

COMPANIES_FILE = Path(__file__).parent / "data" / "other_companies.json"
RETAILER = "retailer"
_KINDS = {"retailers": RETAILER, "carriers": "carrier", "others": "other"}


@dataclass(frozen=True)
class Company:
    name: str
    kind: str  # "retailer", "carrier" or "other"


@dataclass(frozen=True)
class CompanyNames:
    """The names to look for, and the words by which an entry speaks of competitors."""

    companies: tuple[Company, ...]
    competitor_words: tuple[str, ...]

    @functools.cached_property
    def _finder(self) -> NameFinder[Company]:
        return NameFinder((company.name, company) for company in self.companies)

    def named(self, text: str) -> tuple[Company, ...]:
        """The companies `text` names, each once, in the order of the text."""
        return tuple({company.name: company for _, _, company in self._finder.find(text)}.values())

    def without(self, own_names: Sequence[str]) -> CompanyNames:
        """The list less the site's own names (its name, the names it sells under): a shop called
        Zara Home, or one that lists IKEA among its own names, is asked about itself."""
        own = [name.strip().lower() for name in own_names if name.strip()]
        if not own:
            return self
        kept = tuple(c for c in self.companies if not any(_holds(name, c.name) for name in own))
        return CompanyNames(kept, self.competitor_words)

    def speaks_of(self, company: Company, document: FaqDocument, *, asked_about: bool = False) -> bool:
        """Whether the entry can answer a question about `company`: it names it, or (a retailer) it
        speaks of competitors or other shops. When the question asks about the company itself
        (`asked_about`: "Does John Lewis price match?"), only an entry whose own question or answer
        names it does: not one that speaks of competitors, nor one whose phrasings name it ("John
        Lewis has it for less, will you price match?" is how customers ask the price-match entry)."""
        if asked_about:
            return company.name.lower() in f"{document.question} {document.answer}".lower()
        text = document.text.lower()
        if company.name.lower() in text:
            return True
        return company.kind == RETAILER and any(word.lower() in text for word in self.competitor_words)

    def unanswerable(self, text: str, documents: Sequence[FaqDocument]) -> list[bool] | None:
        """For each entry, whether `text` names a company the entry does not speak of; None when it
        names no company (every entry may answer it)."""
        named = self.named(text)
        if not named:
            return None
        about = {
            company.name
            for offset, _, company in self._finder.find(text)
            if not has_han(company.name) and _SUBJECT_BEFORE.search(text[:offset])
        }
        return [
            not all(self.speaks_of(company, document, asked_about=company.name in about) for company in named)
            for document in documents
        ]


# The company is what the question is about when it is the subject of the question: "Does John Lewis
# price match other shops?", "What's John Lewis's policy on price matching?", "Is IKEA cheaper?", not
# "John Lewis has it for less, will you price match?" or "do your lamps work with IKEA Tradfri?".
# (Latin names only: what comes right before the name.)
_SUBJECT_BEFORE = re.compile(
    r"\b(?:does|do|did|is|are|was|were|will|would|can|could|has|have|what's|whats|what\s+is|how's)\s+$",
    re.IGNORECASE,
)


def _holds(text: str, name: str) -> bool:
    """Whether `text` holds `name` as a whole word (Chinese: anywhere): "Zara Home" holds Zara, "Cups" no UPS."""
    if has_han(name):
        return name in text
    return re.search(rf"(?<![a-z0-9]){re.escape(name.lower())}(?![a-z0-9])", text.lower()) is not None


@functools.cache
def company_names() -> CompanyNames:
    """The shipped list of other companies."""
    data = json.loads(COMPANIES_FILE.read_text(encoding="utf-8"))
    companies = tuple(
        Company(str(name), kind) for key, kind in _KINDS.items() for name in data.get(key, []) if str(name).strip()
    )
    return CompanyNames(companies, tuple(str(word) for word in data.get("competitor_words", [])))
