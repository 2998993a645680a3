"""Model folders written once from what a package ships (`intents.model_files.converted_once`)."""

from __future__ import annotations

from pathlib import Path

from intents.model_files import converted_once


def _done(folder: Path) -> bool:
    return (folder / "weights").exists()


def test_a_folder_is_written_once_and_found_from_then_on(tmp_path: Path) -> None:
    writes: list[Path] = []

    def write(folder: Path) -> None:
        writes.append(folder)
        folder.mkdir()
        (folder / "weights").write_text("w")

    target = tmp_path / "model"
    assert converted_once(target, done=_done, write=write) == target
    assert converted_once(target, done=_done, write=write) == target
    assert writes == [tmp_path / "model.partial"]  # written beside the target, then moved into place
    assert (target / "weights").read_text() == "w" and not (tmp_path / "model.partial").exists()


def test_what_a_process_that_died_left_behind_is_written_again(tmp_path: Path) -> None:
    target = tmp_path / "model"
    (tmp_path / "model.partial").mkdir()
    (tmp_path / "model.partial" / "half").write_text("x")
    target.mkdir()  # a folder without its weights: not done

    def write(folder: Path) -> None:
        folder.mkdir()
        (folder / "weights").write_text("w")

    converted_once(target, done=_done, write=write)
    assert sorted(p.name for p in target.iterdir()) == ["weights"]
