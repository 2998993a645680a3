"""The dialogue model: prepare the bundled weights, fine-tune, evaluate.

python manage.py dialogue prepare
python manage.py dialogue finetune --data PATH --format bitext|jsonl [--faq SITE] [--lora|--full] [--epochs N]
python manage.py dialogue finetune --faq SITE [--lora|--full] [--epochs N]   (on the site's own FAQ)
python manage.py dialogue evaluate --data PATH --format bitext --model VERSION|active|base|retrieval [--json]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.cli import ProgressBar, training_device
from chatbot.dialogue.services import DialogueError, dialogue_evaluate, dialogue_finetune
from intents.generation.data import FORMATS
from intents.generation.local import resolve_model_location


class Command(BaseCommand):
    help = "Prepare, fine-tune or evaluate the dialogue model that words grounded answers."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("prepare", help="convert the bundled SmolLM2 to safetensors (once)")
        finetune = actions.add_parser("finetune", help="fine-tune and register a new version")
        evaluate = actions.add_parser("evaluate", help="score a model on held-out questions")
        finetune.add_argument("--data", type=Path, default=None, help="the data file (default: the --faq site's FAQ)")
        finetune.add_argument("--format", default=None, choices=FORMATS, help="the data file's format")
        finetune.add_argument(
            "--faq", default=None, help="retrieve passages from this site's FAQ; without --data, train on it"
        )
        evaluate.add_argument("--data", type=Path, required=True, help="the data file")
        evaluate.add_argument("--format", required=True, choices=FORMATS)
        evaluate.add_argument("--faq", default=None, help="retrieve passages from this site's FAQ")
        for sub in (finetune, evaluate):
            sub.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
        finetune.add_argument("--lora", dest="lora", action="store_true", default=True, help="LoRA adapters (default)")
        finetune.add_argument("--full", dest="lora", action="store_false", help="train every weight")
        finetune.add_argument("--epochs", type=int, default=1)
        finetune.add_argument(
            "--max-examples", type=int, default=None, help="default 400 from a file, all from an FAQ; 0 = all"
        )
        finetune.add_argument("--learning-rate", type=float, default=None)
        finetune.add_argument("--base", default=None, help="model to start from (default: CHATBOT_DIALOGUE_MODEL)")
        finetune.add_argument("--out", type=Path, default=None, help="model folder (default under CHATBOT_MODEL_DIR)")
        finetune.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
        finetune.add_argument("--activate", action="store_true", help="make the new version the active one")
        evaluate.add_argument("--model", required=True, help="a version (name or id), active, base or retrieval")
        evaluate.add_argument("--limit", type=int, default=None, help="score the first N held-out questions")
        evaluate.add_argument("--all", action="store_true", help="score every row (a separate test file)")
        evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:

        try:
            if options["action"] == "prepare":
                self._prepare()
            elif options["action"] == "finetune":
                self._finetune(options)
            else:
                self._evaluate(options)
        except DialogueError as exc:
            raise CommandError(str(exc)) from exc

    def _prepare(self) -> None:

        location = resolve_model_location(settings.CHATBOT_DIALOGUE_MODEL, settings.CHATBOT_MODEL_DIR)
        self.stdout.write(f"Dialogue model ready: {location}")

    def _finetune(self, options: dict[str, Any]) -> None:

        if options["resume"] and not options["out"]:
            raise CommandError("--resume needs --out, the folder of the interrupted run.")
        if options["data"] is None and not options["faq"]:
            raise CommandError("Give --data FILE --format FORMAT, or --faq SITE to train on that site's FAQ.")
        if options["data"] is not None and not options["format"]:
            raise CommandError("--data needs --format (" + ", ".join(FORMATS) + ").")
        max_examples = options["max_examples"]
        if max_examples is None:
            max_examples = 400 if options["data"] is not None else 0
        device = options["device"] or training_device(settings.CHATBOT_DIALOGUE_DEVICE)
        bar = ProgressBar(self.stderr._out, "fine-tuning", "step")
        version = dialogue_finetune(
            data_path=options["data"],
            data_format=options["format"] or "",
            faq_site=options["faq"],
            lora=options["lora"],
            epochs=options["epochs"],
            max_examples=max_examples or None,
            out=options["out"],
            base=options["base"],
            device=device,
            resume=options["resume"],
            activate=options["activate"],
            learning_rate=options["learning_rate"],
            progress=bar,
        )
        bar.close()
        state = "active" if version.is_active else "registered (promote it with `manage.py models promote`)"
        self.stdout.write(f"Dialogue model {version.name} {state}: {version.path}")
        self.stdout.write(json.dumps(version.metrics))
        manifest = version.manifest
        if manifest.get("source") == "faq":
            self.stdout.write(
                f"Trained on {manifest['examples']} phrasings of {manifest['faq_entries']} FAQ entries; "
                f"{manifest['held_out']} held out; verifier kept {manifest['verifier_kept']}, "
                f"dropped {manifest['verifier_dropped']} {json.dumps(manifest['verifier_reasons'])}."
            )

    def _evaluate(self, options: dict[str, Any]) -> None:

        bar = ProgressBar(self.stderr._out, "evaluating", "question")
        scores = dialogue_evaluate(
            data_path=options["data"],
            data_format=options["format"],
            model=options["model"],
            faq_site=options["faq"],
            limit=options["limit"],
            all_rows=options["all"],
            device=options["device"] or training_device(settings.CHATBOT_DIALOGUE_DEVICE),
            progress=bar,
        )
        bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(scores))
        else:
            for name, value in scores.items():
                self.stdout.write(f"{name:>26}: {value}")
