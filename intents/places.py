"""Places a customer names, read as the country and the region they are in.

A customer names where they are ("I live in Geneva, can I still order?", "我在维也纳，普通快递几天到？");
an FAQ names the countries and regions it delivers to ("We can't ship to Switzerland", "欧盟其他国家
3-5 个工作日"). Neither words nor an encoder know that Geneva is in Switzerland or Vienna in the EU, so
the entry that answers is missed or, worse, the one about another region is cited.

`PlaceNames.hints` gives, for each place a question names that the site's FAQ does not name itself,
the words it stands for: its country and region (EU or UK), in the question's language. The hybrid
index searches with them as well (`intents.hybrid`). A place the FAQ names (the shop's own
Amsterdam store) is left as it is: the FAQ already knows it.

The countries and cities are a hand-written list (`intents/data/places.json`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from intents.languages import has_han
from intents.lexical import NameFinder

PLACES_FILE = Path(__file__).parent / "data" / "places.json"
_FULL_OPEN, _FULL_COMMA, _FULL_CLOSE = "\uff08", "\uff0c", "\uff09"  # Chinese brackets and comma
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)$")


@dataclass(frozen=True)
class Place:
    name: str  # as a customer writes it: a city, a country or another name of it
    country: str  # in the name's language
    region: str  # "EU", "UK" in the name's language (欧盟, 英国), or "" for neither


@dataclass(frozen=True)
class PlaceNames:
    places: tuple[Place, ...]
    capitalised_only: frozenset[str] = frozenset()

    @functools.cached_property
    def _finder(self) -> NameFinder[Place]:
        return NameFinder((place.name, place) for place in self.places)

    def _found(self, text: str) -> list[tuple[int, str, Place]]:
        """(offset, as written, place) of the first mention of each place `text` names."""
        found: dict[str, tuple[int, str, Place]] = {}
        for offset, written, place in self._finder.find(text):
            if place.name in self.capitalised_only and (written != place.name or _SENTENCE_START.search(text[:offset])):
                continue  # "a nice lamp", "Split the payment?", "a bath towel": not places
            found.setdefault(place.name.lower(), (offset, written, place))
        return list(found.values())

    @functools.lru_cache(maxsize=16)  # noqa: B019 (a few FAQ texts per process, the list lives as long)
    def _named_in(self, known: str) -> frozenset[str]:
        """The places in Latin letters that `known` names, as whole names: the UK entry's "Northern
        Ireland" does not name Ireland. (A Chinese name counts where `known` holds it at all.)"""
        return frozenset(place.name.lower() for place in self.named(known) if not has_han(place.name))

    def named(self, text: str) -> tuple[Place, ...]:
        """The places `text` names, each once, in the order they appear."""
        return tuple(place for _, _, place in self._found(text))

    def annotated(self, text: str, known: str = "") -> str:
        """`text` with each place it names that `known` does not followed by what it stands for:
        "I live in Geneva (Switzerland)", "我在维也纳（奥地利，欧盟）"."""
        pieces: list[str] = []
        position = 0
        for offset, written, _, words in self._unknown(text, known):
            end = offset + len(written)
            note = _FULL_OPEN + _FULL_COMMA.join(words) + _FULL_CLOSE if has_han(written) else f" ({', '.join(words)})"
            pieces += [text[position:end], note]
            position = end
        return "".join([*pieces, text[position:]])

    def hints(self, text: str, known: str = "") -> list[tuple[str, list[str]]]:
        """Each place `text` names that `known` (the site's FAQ text) does not, with the words it stands
        for: its country and region, in the place name's language."""
        return [(place.name, words) for _, _, place, words in self._unknown(text, known)]

    def _unknown(self, text: str, known: str) -> list[tuple[int, str, Place, list[str]]]:
        """(offset, as written, place, what it stands for) of the first mention of each place `text`
        names that `known` does not and that stands for more than its own name."""
        named_there = self._named_in(known)
        out: list[tuple[int, str, Place, list[str]]] = []
        for offset, written, place in self._found(text):
            known_there = place.name in known if has_han(place.name) else place.name.lower() in named_there
            if known_there:
                continue
            words = [w for w in dict.fromkeys((place.country, place.region)) if w and w.lower() != place.name.lower()]
            if words:
                out.append((offset, written, place, words))
        return out


@functools.cache
def place_names() -> PlaceNames:
    """The shipped countries and cities."""
    data = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    regions = data.get("regions", {})
    places: list[Place] = []
    for country in data["countries"]:
        region = regions.get(country.get("region") or "", {})
        english = (str(country["en"]), str(region.get("en", "")))
        chinese = (str(country["zh"]), str(region.get("zh", "")))
        names_en = [country["en"], *country.get("aliases", [])]
        names_zh = [country["zh"], *country.get("aliases_zh", [])]
        for city in country.get("cities", []):
            city_en, _, city_zh = str(city).partition("|")
            names_en += [city_en] if city_en else []
            names_zh += [city_zh] if city_zh else []
        places += [Place(str(name), *english) for name in names_en]
        places += [Place(str(name), *chinese) for name in names_zh]
    return PlaceNames(tuple(places), frozenset(str(name) for name in data.get("capitalised_only", [])))
