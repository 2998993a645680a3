"""The import contracts of pyproject.toml ([tool.importlinter]): apps import only the layers below
them, side-by-side apps nothing of each other, nothing imports in a circle, and the ML package
`intents` knows nothing of Django. The same check `make lint` runs, and proof that it would catch
each kind of mistake."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.adapters.building import GraphBuilder
from importlinter.application import use_cases
from importlinter.application.app_config import settings as linter_settings

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = ROOT / ".venv" / "bin" / "lint-imports"


def test_the_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


class _GraphWithExtraImport(GraphBuilder):
    """The project's real import graph, plus one import that is not in the code."""

    def __init__(self, importer: str, imported: str) -> None:
        self.importer, self.imported = importer, imported

    def build(self, *args: Any, **kwargs: Any) -> grimp.ImportGraph:
        graph = super().build(*args, **{**kwargs, "cache_dir": None})
        graph.add_import(importer=self.importer, imported=self.imported)
        return graph


@pytest.fixture
def linter() -> Iterator[None]:
    configuration.configure()
    saved = linter_settings.copy()
    yield
    linter_settings.configure(**saved._config)


def broken_contracts(importer: str, imported: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    linter_settings.configure(GRAPH_BUILDER=_GraphWithExtraImport(importer, imported))
    capsys.readouterr()
    passed = use_cases.lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    lines = capsys.readouterr().out.splitlines()
    broken = {line.removesuffix(" BROKEN") for line in lines if line.endswith(" BROKEN")}
    assert passed == (not broken)
    return broken


LAYERS = "Apps import only the layers below them"
NO_CYCLES = "No import cycles between the packages and modules of a package"
ML_WITHOUT_DJANGO = "The ML package intents imports neither Django nor the project"


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        # upward: the conversations would know the reply engine (and so import in a circle)
        ("chatbot.conversations.services", "chatbot.replies.dispatch", {LAYERS, NO_CYCLES}),
        # upward, skipping layers: the FAQ store would load the dialogue model
        ("chatbot.knowledge.services", "chatbot.dialogue.services", {LAYERS, NO_CYCLES}),
        # sideways: two services on the same layer are independent
        ("chatbot.sentiment.services", "chatbot.dialogue.services", {LAYERS}),
        # a circle inside one app
        ("chatbot.replies.locks", "chatbot.replies.services", {NO_CYCLES}),
        # the ML side using Django
        ("intents.types", "django.db", {ML_WITHOUT_DJANGO}),
    ],
)
def test_a_wrong_import_breaks_the_contracts(
    linter: None, capsys: pytest.CaptureFixture[str], importer: str, imported: str, broken: set[str]
) -> None:
    assert broken_contracts(importer, imported, capsys) == broken


def test_a_downward_import_breaks_nothing(linter: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert broken_contracts("chatbot.replies.services", "chatbot.conversations.models", capsys) == set()
