"""What a complaint can be about: a generic customer-service taxonomy.

Each category but `other` is described, with example phrasings, in `taxonomy.json` next to this
file:

| category | about |
| --- | --- |
| delivery | an order or parcel late, not arrived, misdelivered, wrong item |
| delay | the service itself ran late: a flight, train, appointment, repair |
| cancellation | the company cancelled an order, booking or appointment, or will not let the customer cancel |
| lost_or_damaged_item | something in the company's care lost or damaged: luggage, a parcel broken in transit |
| product_defect | the product or service is faulty or poor: broken, does not work, dirty, bad food |
| billing | wrong, double or unexpected charges and fees, failed payments |
| refund | a refund or compensation refused, late or missing |
| booking | trouble making, changing or confirming a booking, reservation or ticket |
| account_access | cannot log in, locked out, password reset, hacked or closed account |
| website_or_app | the website or app crashes, errors, will not load |
| rude_or_unhelpful_service | rude, dismissive or unhelpful staff, wrong information, nobody answers |
| waiting_time | long queues, hours on hold, no reply for days |
| other | none of these is near enough |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.json")
OTHER = "other"
CATEGORIES: tuple[str, ...] = (
    "delivery",
    "delay",
    "cancellation",
    "lost_or_damaged_item",
    "product_defect",
    "billing",
    "refund",
    "booking",
    "account_access",
    "website_or_app",
    "rude_or_unhelpful_service",
    "waiting_time",
    OTHER,
)


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    examples: tuple[str, ...]


def load_taxonomy(path: Path | str = TAXONOMY_FILE) -> tuple[Category, ...]:
    """The categories with their descriptions and example phrasings (every one but `other`)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    categories = tuple(
        Category(name, str(entry["description"]), tuple(str(e) for e in entry["examples"]))
        for name, entry in data["categories"].items()
    )
    unknown = [c.name for c in categories if c.name not in CATEGORIES or c.name == OTHER]
    if unknown:
        raise ValueError(f"{path}: unknown categories {unknown}; add them to CATEGORIES")
    return categories
