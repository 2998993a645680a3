"""List, register, promote and roll back trained models.

python manage.py models list [--kind K] [--json]
python manage.py models register --kind K --name N --path DIR [--metrics JSON_FILE] [--manifest JSON_FILE] [--activate]
python manage.py models promote NAME_OR_ID [--kind K]
python manage.py models rollback KIND
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatbot.cli import cli_user
from chatbot.registry.models import ModelKind, ModelVersion
from chatbot.registry.selectors import model_versions_list, model_versions_matching
from chatbot.registry.services import (
    ModelRegistryError,
    model_version_promote,
    model_version_register,
    model_version_rollback,
)


class Command(BaseCommand):
    help = "The model registry: list versions, register one, promote one, or roll a kind back."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="registered versions, newest first")
        listing.add_argument("--kind", choices=ModelKind.values)
        listing.add_argument("--json", action="store_true", help="print one JSON list")
        register = actions.add_parser("register", help="record a trained model's directory")
        register.add_argument("--kind", required=True, choices=ModelKind.values)
        register.add_argument("--name", required=True)
        register.add_argument("--path", required=True, type=Path, help="the directory of the model's files")
        register.add_argument("--metrics", type=Path, help="a JSON file with one object of metrics")
        register.add_argument("--manifest", type=Path, help="a JSON file describing the training data")
        register.add_argument("--base-model", default="")
        register.add_argument("--notes", default="")
        register.add_argument("--activate", action="store_true", help="promote it at once")
        promote = actions.add_parser("promote", help="make a version the active one of its kind")
        promote.add_argument("version", metavar="NAME_OR_ID")
        promote.add_argument("--kind", choices=ModelKind.values, help="needed when kinds share the name")
        rollback = actions.add_parser("rollback", help="re-activate the version active before the current one")
        rollback.add_argument("kind", choices=ModelKind.values)
        rollback.add_argument("--scope", default="", help="e.g. site:demo for a site's intent classifier")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ModelRegistryError as exc:
            raise CommandError(str(exc)) from exc

    def _list(self, options: dict[str, Any]) -> None:
        versions = list(model_versions_list(kind=options["kind"]))
        if options["json"]:
            self.stdout.write(json.dumps([_as_json(version) for version in versions], indent=2))
            return
        if not versions:
            self.stdout.write("No model versions registered.")
        for version in versions:
            marker = "*" if version.is_active else " "
            scope = f" [{version.scope}]" if version.scope else ""
            metrics = " ".join(f"{k}={v}" for k, v in version.metrics.items() if isinstance(v, int | float))
            self.stdout.write(
                f"{marker} {version.pk:>4} {version.kind:<9} {version.name + scope:<40} "
                f"{version.created_at:%Y-%m-%d %H:%M}  {metrics}".rstrip()
            )

    def _register(self, options: dict[str, Any]) -> None:
        version = model_version_register(
            kind=options["kind"],
            name=options["name"],
            path=options["path"],
            base_model=options["base_model"],
            manifest=_json_object(options["manifest"]),
            metrics=_json_object(options["metrics"]),
            activate=options["activate"],
            notes=options["notes"],
        )
        state = "active" if version.is_active else "not active; `models promote` makes it so"
        self.stdout.write(f"Registered {version.kind} version {version.name} (id {version.pk}, {state}).")

    def _promote(self, options: dict[str, Any]) -> None:
        matches = model_versions_matching(name_or_id=options["version"], kind=options["kind"])
        if not matches:
            raise CommandError(f"No model version named (or with id) {options['version']!r}.")
        if len(matches) > 1:
            kinds = ", ".join(version.kind for version in matches)
            raise CommandError(f"{options['version']!r} names versions of several kinds ({kinds}); give --kind.")
        version = model_version_promote(version=matches[0], by=cli_user())
        self.stdout.write(f"{version.name} is now the active {version.kind} model.")

    def _rollback(self, options: dict[str, Any]) -> None:
        version = model_version_rollback(kind=options["kind"], scope=options["scope"], by=cli_user())
        self.stdout.write(f"Rolled back: {version.name} is the active {version.kind} model again.")


def _as_json(version: ModelVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "kind": version.kind,
        "scope": version.scope,
        "name": version.name,
        "path": version.path,
        "base_model": version.base_model,
        "is_active": version.is_active,
        "created_at": version.created_at.isoformat(),
        "activated_at": version.activated_at.isoformat() if version.activated_at else None,
        "metrics": version.metrics,
        "manifest": version.manifest,
        "notes": version.notes,
    }


def _json_object(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(value, dict):
        raise CommandError(f"{path}: expected one JSON object, found {type(value).__name__}")
    return value
