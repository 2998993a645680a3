"""Generate the raw sentences of the verifier's labelled set (issue 14, item 2).

For each customer question below, the product's real prompt is built (`PromptBuilder` with the
demo company name and the FAQ entry that answers the question as the only passage, as the
responder does when the gate cites one entry), and the bundled SmolLM2-135M-Instruct writes two
replies: greedy (what the demo serves) and one sampled at temperature 0.8, top-p 0.95, with a fixed
seed per batch (the kind of error a small model makes on another day). Prompts are decoded in
batches with the product's decoding settings (see `replies`). Each reply is split into
sentences with the grounding guard's own splitter, and one JSON line per sentence is written.

The sentences are then labelled by hand (supported / unsupported by the passage) into
`verifier_sentences.jsonl`; see README.md in this folder.

    .venv/bin/python bench/answers/generate_verifier_sentences.py \
        [--model-dir var/models] [--out bench/answers/verifier_raw.jsonl] [--limit N]

No Django: it uses `intents` only. CPU, one process, 1 torch thread by default; the sampled
replies depend on --seed and --batch (one seed per batch).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from intents.generation.grounding import _sentence_pieces  # noqa: E402
from intents.generation.local import SMOLLM2_NAME, LocalGenerator, bundled_smollm2_path  # noqa: E402
from intents.generation.prompting import PromptBuilder  # noqa: E402
from intents.generation.types import GenerationSettings  # noqa: E402
from intents.types import FaqDocument, Turn  # noqa: E402

FAQ_FILE = ROOT / "chatbot" / "knowledge" / "demo_faq.json"
COMPANY = "Lumen & Loom"  # the demo site's name, as `demo_setup` creates it

# (FAQ question that answers it, customer question). Written for this set, in other words than the
# FAQ's questions and alternatives; many are yes/no questions whose answer per the FAQ is "no".
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("How long does delivery take within the EU?", "Will my order reach Spain by tomorrow?"),
    ("How long does delivery take within the EU?", "Does a sofa ordered to Belgium arrive in two days?"),
    (
        "How long does delivery take within the EU?",
        "If I order at 4pm on a Tuesday, does it leave the warehouse that day?",
    ),
    ("How long does delivery take to the UK?", "Is delivery to Belfast as quick as delivery to London?"),
    ("How long does delivery take to the UK?", "Do my UK parcels come from Rotterdam?"),
    ("How long does delivery take to the UK?", "If I order at 3pm UK time, will it be dispatched today?"),
    ("How much does shipping cost?", "Is standard shipping in the UK €4.95?"),
    ("How much does shipping cost?", "Is it free to ship a sofa?"),
    ("How much does shipping cost?", "What will I pay to have a €30 order sent to Italy?"),
    ("Do you offer free shipping?", "If I spend €70, is express delivery free?"),
    ("Do you offer free shipping?", "Is shipping free on every order?"),
    ("Do you offer free shipping?", "My basket is €65 but I have a €10 voucher, do I still get free delivery?"),
    ("Do you offer express delivery?", "Can my made-to-measure curtains be sent by express?"),
    ("Do you offer express delivery?", "If I order express on Saturday, will it arrive on Sunday?"),
    ("Do you offer express delivery?", "Can I get an armchair delivered express?"),
    ("How is large furniture delivered?", "Will the driver just leave the wardrobe at my front door?"),
    ("How is large furniture delivered?", "Do I have to pay to have the furniture packaging taken away?"),
    ("How is large furniture delivered?", "Can I pick a time for my bed frame to be delivered?"),
    (
        "Can I have my order delivered to a pickup point or parcel locker?",
        "Can I send my order to a parcel locker in Italy?",
    ),
    ("Can I have my order delivered to a pickup point or parcel locker?", "How long will the locker keep my parcel?"),
    (
        "Can I have my order delivered to a pickup point or parcel locker?",
        "Can my bookcase be delivered to a pickup point?",
    ),
    ("How can I track my order?", "Do I need an account to follow my delivery?"),
    ("How can I track my order?", "Will you send the tracking link by text message?"),
    ("My order hasn't arrived yet. What should I do?", "My order is one day late, should I contact you now?"),
    ("My order hasn't arrived yet. What should I do?", "Will I get my money back if the courier loses my parcel?"),
    (
        "Tracking says delivered but I didn't receive my parcel. What can I do?",
        "It says delivered this morning but nothing is here, should I file a claim right away?",
    ),
    (
        "Tracking says delivered but I didn't receive my parcel. What can I do?",
        "I have two months to report a parcel that was marked delivered but never came, right?",
    ),
    ("What should I do if my item arrived damaged?", "Do I have to send the broken vase back before you replace it?"),
    ("What should I do if my item arrived damaged?", "Is there a charge for replacing a damaged item?"),
    ("What should I do if my item arrived damaged?", "My mug arrived chipped six weeks ago, can I still report it?"),
    ("I received the wrong item. What should I do?", "Do I pay to send back the wrong item you sent me?"),
    (
        "I received the wrong item. What should I do?",
        "Do you wait until you get the wrong item back before sending the right one?",
    ),
    ("An item is missing from my order. What should I do?", "Only half my order came, is the rest lost?"),
    ("An item is missing from my order. What should I do?", "How long do I have to tell you an item is missing?"),
    ("How long do I have to return an item?", "Can I return a throw 45 days after it was delivered?"),
    ("How long do I have to return an item?", "Can I return cushions I have already used?"),
    ("How long do I have to return an item?", "Can I return a duvet cover after cutting off its label?"),
    ("How do I return an item?", "Will you pick up my return parcel from my home?"),
    ("How do I return an item?", "How do I send back a dining table?"),
    ("How do I return an item?", "Can I drop off my return a month after registering it?"),
    ("Are returns free?", "Is collecting a sofa I want to return free?"),
    ("Are returns free?", "Do I pay postage to return a faulty lamp?"),
    ("Are returns free?", "Do returns from Germany cost anything?"),
    ("Are there items that cannot be returned?", "Can I return a duvet insert I took out of its plastic?"),
    ("Are there items that cannot be returned?", "Can I return a gift card I bought?"),
    ("Are there items that cannot be returned?", "Are sale items final sale?"),
    ("When will I get my refund?", "Is the refund immediate once I drop the parcel off?"),
    ("When will I get my refund?", "Will my refund be paid as store credit?"),
    ("When will I get my refund?", "Do I get the delivery charge back if I return just one item from my order?"),
    ("Can I exchange an item?", "Can I exchange a lamp for a rug?"),
    ("Can I exchange an item?", "Do I have to pay for an exchange?"),
    ("Can I exchange an item?", "Can I swap a cushion cover for another colour two months after delivery?"),
    ("Can I cancel my order?", "I ordered three hours ago, can I still cancel it online myself?"),
    ("Can I cancel my order?", "My order has already shipped, can I cancel it?"),
    ("Can I cancel my order?", "How long do I have to cancel my order in my account?"),
    (
        "Can I change my delivery address after ordering?",
        "Can you change the delivery address after the parcel has shipped?",
    ),
    (
        "Can I change my delivery address after ordering?",
        "I moved house yesterday, can you send my order to the new address?",
    ),
    ("Can I add an item to an order I already placed?", "Can I add an item to my order?"),
    ("Can I add an item to an order I already placed?", "Can I add a cushion to the order I placed this morning?"),
    ("Can I add an item to an order I already placed?", "Can you remove a candle from my order?"),
    ("What payment methods do you accept?", "Can I pay cash on delivery?"),
    ("What payment methods do you accept?", "Do you accept cheques?"),
    ("What payment methods do you accept?", "Can I pay with Bitcoin?"),
    ("What payment methods do you accept?", "Can I pay by bank transfer?"),
    ("Can I pay later or in instalments?", "Can I pay in instalments for a €20 order?"),
    ("Can I pay later or in instalments?", "Does Klarna charge interest on the instalments?"),
    ("Can I pay later or in instalments?", "Can I spread the cost over 12 months?"),
    ("Why did my payment fail?", "Is my basket emptied when my payment fails?"),
    ("Why did my payment fail?", "Can you tell me why my bank blocked my payment?"),
    ("Why have I been charged twice?", "I retried checkout and now see two charges, did you take my money twice?"),
    ("Why have I been charged twice?", "How long until the extra pending charge disappears?"),
    ("How do I get an invoice for my order?", "Do I have to request an invoice by email?"),
    ("How do I get an invoice for my order?", "Can I add my company's VAT number to an order I already placed?"),
    ("Do your prices include VAT?", "Will VAT be added at checkout?"),
    ("Do your prices include VAT?", "Are prices on the UK site shown in euros?"),
    ("Why isn't my discount code working?", "Can I use two discount codes on one order?"),
    ("Why isn't my discount code working?", "Can I use a discount code to buy a gift card?"),
    ("Why isn't my discount code working?", "Does my code work on made-to-measure curtains?"),
    ("Do you have a discount for first-time customers?", "Do I get 20% off my first order?"),
    ("Do you have a discount for first-time customers?", "Can I combine the welcome code with another code?"),
    ("Do you have a discount for first-time customers?", "How long is the newsletter discount valid?"),
    ("Do you sell gift cards?", "Can I buy a €500 gift card?"),
    ("Do you sell gift cards?", "Do your gift cards expire after a year?"),
    ("Do you sell gift cards?", "Do you sell plastic gift cards I can put in a card?"),
    (
        "How do I use a gift card or check its balance?",
        "Can I pay partly with a gift card and partly with my credit card?",
    ),
    ("How do I use a gift card or check its balance?", "Do I lose what's left on my gift card after one purchase?"),
    ("Do you price match?", "Will you match Amazon's lower price?"),
    ("Do you price match?", "The price dropped a month after I ordered, can I get the difference back?"),
    ("Can I be notified when an out-of-stock item is back?", "Will you email me every week until the item is back?"),
    (
        "Can I be notified when an out-of-stock item is back?",
        "How long does it usually take for sold-out items to return?",
    ),
    ("How do pre-orders work?", "Is a pre-order only charged when it ships?"),
    ("How do pre-orders work?", "Do I pay extra shipping if my pre-order ships separately from the rest?"),
    ("How do pre-orders work?", "Can I cancel a pre-order and get my money back?"),
    ("How do I wash linen bedding?", "Can I wash linen sheets at 60 degrees?"),
    ("How do I wash linen bedding?", "Should I use fabric softener on linen?"),
    ("How do I wash linen bedding?", "Will the linen shrink in the wash?"),
    ("How do I care for a wool throw?", "Can I tumble dry the wool throw?"),
    ("How do I care for a wool throw?", "Can I wash the wool throw in hot water?"),
    ("How do I care for a wool throw?", "Should I wring the throw out after washing it?"),
    ("Is your kitchenware dishwasher safe?", "Is the cast iron pan dishwasher safe?"),
    ("Is your kitchenware dishwasher safe?", "Can wooden chopping boards go in the dishwasher?"),
    ("Is your kitchenware dishwasher safe?", "Can the enamelled casserole go in a 300°C oven?"),
    ("Is your kitchenware dishwasher safe?", "Can I heat the stoneware mugs in the microwave?"),
    ("Which bulbs do your lamps need and what wattage?", "Is a bulb included with the floor lamp?"),
    ("Which bulbs do your lamps need and what wattage?", "Can I put a 100 W bulb in my lamp?"),
    ("Which bulbs do your lamps need and what wattage?", "Do all your lamps take E27 bulbs?"),
    ("Are your lamps dimmable and do they work with smart bulbs?", "Are all your lamps dimmable?"),
    (
        "Are your lamps dimmable and do they work with smart bulbs?",
        "Can I use an ordinary LED bulb with the inline dimmer?",
    ),
    ("Are your lamps dimmable and do they work with smart bulbs?", "Can I put a smart bulb in your table lamp?"),
    ("Which plug do your lamps have?", "Can I use the EU lamp in the UK?"),
    ("Which plug do your lamps have?", "Is it fine to use a travel adapter with the lamp permanently?"),
    ("Which plug do your lamps have?", "Will the lamp work on 110 V in the United States?"),
    ("Do I need to assemble the furniture?", "Will you assemble my wardrobe for me?"),
    ("Do I need to assemble the furniture?", "Do I need to buy tools to put the shelf together?"),
    ("Do I need to assemble the furniture?", "How long does it take to build the side table?"),
    ("What warranty do your products have?", "Is accidental damage covered by the warranty?"),
    ("What warranty do your products have?", "Is the warranty only one year?"),
    ("What warranty do your products have?", "How long is a solid-wood bed frame covered?"),
    ("How do I create an account?", "Is registering mandatory before I can buy?"),
    ("How do I create an account?", "Can I collect Loom Circle points without an account?"),
    ("How do I reset my password?", "Is the password reset link valid for 24 hours?"),
    ("How do I reset my password?", "I asked for a reset link ten minutes ago and nothing has come, what now?"),
    ("How do I delete my account and personal data?", "Will my data be erased immediately?"),
    ("How do I delete my account and personal data?", "Will you delete my invoices too?"),
    ("How do I unsubscribe from your newsletter?", "If I unsubscribe, will I stop getting emails about my orders?"),
    ("How do I unsubscribe from your newsletter?", "Does unsubscribing take effect right away?"),
    ("Do you have physical stores?", "Do you have a store in Paris?"),
    ("Do you have physical stores?", "Are your stores open on Mondays?"),
    ("Do you have physical stores?", "Is your entire range on display in the showroom?"),
    ("Do you offer click and collect?", "Does collecting in store cost extra?"),
    ("Do you offer click and collect?", "Can I collect my order from the London showroom the same day?"),
    ("Do you offer click and collect?", "How long will you keep my order in the store?"),
    ("What are your customer service opening hours?", "Is customer service open on Sunday?"),
    ("What are your customer service opening hours?", "Can I reach the team at 8pm on a Tuesday?"),
    ("What are your customer service opening hours?", "How quickly do you reply to emails?"),
    ("How can I contact you?", "Can I call you at midnight?"),
    ("How can I contact you?", "Do you have a WhatsApp number?"),
    ("Do you ship outside the EU and UK?", "Can you deliver to Norway?"),
    ("Do you ship outside the EU and UK?", "Can I use a parcel-forwarding service to get my order to the US?"),
    ("Do you ship outside the EU and UK?", "Do you ship to Canada?"),
    ("Will I have to pay customs duties?", "Do I pay customs on an order to the UK?"),
    ("Will I have to pay customs duties?", "Will I pay import VAT when my parcel arrives in Ireland?"),
    ("Will I have to pay customs duties?", "Can I order from the EU site for delivery to London?"),
    ("How sustainable are your products?", "Is your cotton conventionally grown?"),
    ("How sustainable are your products?", "Do you use plastic in your packaging?"),
    ("How sustainable are your products?", "Where does the flax for your linen come from?"),
    ("What sizes does your bed linen come in?", "Do you have 135x200 duvet covers on the EU site?"),
    ("What sizes does your bed linen come in?", "Will the fitted sheet fit a 35 cm deep mattress?"),
    ("What sizes does your bed linen come in?", "Can I buy Super King duvet covers on the EU site?"),
    ("Can I order fabric samples?", "How much do fabric swatches cost?"),
    ("Can I order fabric samples?", "Can I order 10 swatches at once?"),
    ("Can I order fabric samples?", "Will the swatches arrive the next day?"),
    ("Do you offer bulk or business orders?", "Do hotels get a discount?"),
    ("Do you offer bulk or business orders?", "Can my café get 10% off a €500 order?"),
    ("Do you offer bulk or business orders?", "Can trade customers pay by invoice?"),
    ("Do you have a loyalty programme?", "Does it cost anything to join Loom Circle?"),
    ("Do you have a loyalty programme?", "Do my points ever expire?"),
    ("Do you have a loyalty programme?", "How many points do I need for a €10 voucher?"),
    ("Do you offer gift wrapping?", "Is gift wrapping free?"),
    ("Do you offer gift wrapping?", "Will the gift receipt show the prices?"),
    ("Do you make curtains to measure?", "Can I return made-to-measure curtains if I change my mind?"),
    ("Do you make curtains to measure?", "Can you make curtains 500 cm wide?"),
    ("Do you make curtains to measure?", "Will my made-to-measure curtains arrive within a week?"),
    (
        "I didn't receive an order confirmation email. What should I do?",
        "Should I place my order again because no confirmation arrived?",
    ),
    (
        "I didn't receive an order confirmation email. What should I do?",
        "How long does the confirmation email normally take?",
    ),
)

GREEDY = GenerationSettings(max_new_tokens=160)  # what the product uses (CHATBOT_MAX_NEW_TOKENS)
SAMPLED = GenerationSettings(max_new_tokens=160, temperature=0.8, top_p=0.95)


def replies(generator: LocalGenerator, prompts: list[list[int]], settings: GenerationSettings, seed: int) -> list[str]:
    """The replies to a batch of prompts, decoded as `LocalGenerator.stream` decodes them (same
    stop tokens, repetition penalty, temperature and top-p), but batched with transformers'
    `generate()`: on a shared 2-core machine one prompt at a time ran at about 0.3 s a token,
    a batch of 16 at about 0.05 s a token per prompt."""
    import torch

    pad = generator.tokenizer.pad_token_id
    if pad is None:
        pad = generator.tokenizer.eos_token_id
    width = max(len(ids) for ids in prompts)
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompts])  # left padding
    attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts])
    sampling = settings.temperature > 0
    options: dict[str, object] = {"do_sample": sampling}
    if sampling:
        options.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
    else:
        options.update(temperature=None, top_p=None, top_k=None)
    torch.manual_seed(seed)
    with torch.inference_mode():
        output = generator.model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty,
            eos_token_id=sorted(generator._stop_ids()),
            pad_token_id=pad,
            **options,
        )
    return [generator.tokenizer.decode(row[width:], skip_special_tokens=True) for row in output]


def sentences(reply: str) -> list[str]:
    """The reply's sentences, split as the grounding guard splits them."""
    return [reply[a:b].strip() for a, b in _sentence_pieces(reply.strip()) if reply[a:b].strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("verifier_raw.jsonl"))
    parser.add_argument("--seed", type=int, default=1400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16, help="prompts generated together")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    faq = json.loads(FAQ_FILE.read_text(encoding="utf-8"))
    entries = {
        e["question"]: FaqDocument(i, e["question"], e["answer"], tuple(e["alternatives"])) for i, e in enumerate(faq)
    }
    missing = {q for q, _ in QUESTIONS} - entries.keys()
    if missing:
        raise SystemExit(f"questions cite entries the FAQ lacks: {sorted(missing)}")
    phrasings = {p.lower() for e in entries.values() for p in e.phrasings}
    copied = [t for _, t in QUESTIONS if t.lower() in phrasings]
    if copied:
        raise SystemExit(f"questions copied from the FAQ: {copied}")

    generator = LocalGenerator.load(bundled_smollm2_path(args.model_dir), name=SMOLLM2_NAME)
    prompts = PromptBuilder(company=COMPANY)
    questions = QUESTIONS[: args.limit] if args.limit else QUESTIONS
    started = time.monotonic()
    rows = 0
    with args.out.open("w", encoding="utf-8") as out:
        for first in range(0, len(questions), args.batch):
            batch = list(enumerate(questions[first : first + args.batch], first + 1))
            prompt_ids = [
                generator.prompt_ids(prompts.messages([Turn("customer", text)], [entries[faq_question]]))[0]
                for _, (faq_question, text) in batch
            ]
            for mode, settings in (("greedy", GREEDY), ("sampled", SAMPLED)):
                for (number, (faq_question, text)), reply in zip(
                    batch, replies(generator, prompt_ids, settings, args.seed + first), strict=True
                ):
                    for index, sentence in enumerate(sentences(reply)):
                        row = {
                            "id": f"q{number:03d}-{mode[0]}{index}",
                            "question_id": f"q{number:03d}",
                            "question": text,
                            "faq_question": faq_question,
                            "passage": entries[faq_question].answer,
                            "reply_mode": mode,
                            "reply": reply,
                            "sentence": sentence,
                            "sentence_index": index,
                        }
                        out.write(json.dumps(row, ensure_ascii=False) + "\n")
                        rows += 1
                out.flush()
                done = first + len(batch)
                print(
                    f"{done}/{len(questions)} {mode}: {rows} sentences {time.monotonic() - started:.0f}s",
                    file=sys.stderr,
                )
    print(json.dumps({"questions": len(questions), "sentences": rows, "out": str(args.out)}))


if __name__ == "__main__":
    main()
