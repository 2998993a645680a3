"""bench/answers/check_sets.py on the question sets: they validate against the demo FAQs, and the
checker catches what it is there to catch, in Chinese above all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "bench" / "answers"


def check(*args: str, language: str = "zh") -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, str(ANSWERS / "check_sets.py"), "--lang", language, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


def split(name: str) -> dict[str, Any]:
    return json.loads((ANSWERS / f"demo_zh_{name}.json").read_text(encoding="utf-8"))


def check_edited(tmp_path: Path, dev: dict[str, Any], *args: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(dev, ensure_ascii=False), encoding="utf-8")
    return check("--set", f"dev={path}", "--set", f"test={ANSWERS / 'demo_zh_test.json'}", *args)


def test_the_chinese_splits_and_probes_pass_the_checker() -> None:
    status, report = check()

    assert report["errors"] == []
    assert status == 0
    assert {name: report["splits"][name]["entries_covered"] for name in ("dev", "test")} == {"dev": 61, "test": 61}
    assert report["probes"]["judged_as_intended"] == report["probes"]["total"] > 0


def test_the_english_splits_share_no_question_with_the_faq_or_the_tuning_file() -> None:
    # The demo FAQ and the gate's tuning file grow; a phrasing copied from an answer-evaluation split
    # flatters every figure measured on it.
    status, report = check(language="en")

    assert report["errors"] == []
    assert status == 0


def test_only_a_split_the_faq_was_trained_on_may_hold_its_alternatives(tmp_path: Path) -> None:
    """Since stop 33 the demo FAQ holds the in-scope questions of dev, val, test, test2 and test3; the
    development and held-out splits measured on must still share none of them."""
    dev = json.loads((ANSWERS / "demo_en_dev.json").read_text(encoding="utf-8"))
    val2 = json.loads((ANSWERS / "demo_en_val2.json").read_text(encoding="utf-8"))
    val2["out_of_scope"].append(dev["in_scope"][0]["text"])  # an FAQ alternative since stop 33
    path = tmp_path / "val2.json"
    path.write_text(json.dumps(val2), encoding="utf-8")

    status, report = check("--set", f"dev={ANSWERS / 'demo_en_dev.json'}", language="en")
    assert status == 0, report["errors"]
    status, report = check("--set", f"val2={path}", language="en")
    assert status == 1
    assert any("near-duplicates faq alternative" in error for error in report["errors"])


def test_a_chinese_question_copied_from_an_faq_alternative_is_an_error(tmp_path: Path) -> None:
    dev = split("dev")
    dev["out_of_scope"].append("寄到德国几天能到")  # the alternative is "寄到德国几天能到？"

    status, report = check_edited(tmp_path, dev)

    assert status == 1
    assert any("near-duplicates faq alternative '寄到德国几天能到？'" in error for error in report["errors"])


def test_a_must_pattern_missing_from_the_chinese_answer_is_an_error(tmp_path: Path) -> None:
    dev = split("dev")
    dev["in_scope"][0]["must"] = "两周"

    status, report = check_edited(tmp_path, dev)

    assert status == 1
    assert any(error.startswith("dev.in_scope[0]: must '两周' does not match") for error in report["errors"])


def test_a_forbid_pattern_matching_the_answer_behind_the_chinese_no_is_an_error(tmp_path: Path) -> None:
    dev = split("dev")
    item = next(it for it in dev["in_scope"] if it.get("yesno") == "no")
    item["forbid"].append("^不，")

    status, report = check_edited(tmp_path, dev)

    assert status == 1
    assert any("forbid '^不，' matches the correct reply '不，" in error for error in report["errors"])


def test_a_probe_the_patterns_judge_otherwise_is_an_error(tmp_path: Path) -> None:
    probes = json.loads((ANSWERS / "demo_zh_probes.json").read_text(encoding="utf-8"))
    first = next(i for i, probe in enumerate(probes) if probe["verdict"] == "correct")
    probes[first]["verdict"] = "contradiction"
    path = tmp_path / "probes.json"
    path.write_text(json.dumps(probes, ensure_ascii=False), encoding="utf-8")

    status, report = check("--probes", str(path))

    assert status == 1
    assert report["probes"]["judged_as_intended"] == report["probes"]["total"] - 1
    assert any(
        error.startswith(f"probes[{first}]: ") and "judged correct, meant contradiction" in error
        for error in report["errors"]
    )


def test_a_no_item_whose_forbid_patterns_let_a_reply_open_with_yes_is_an_error(tmp_path: Path) -> None:
    # The FAQ's own "可以。" was written for its entry's question; to a question whose answer is no it
    # is a contradiction, and the set has to say so.
    dev = split("dev")
    index, item = next((i, it) for i, it in enumerate(dev["in_scope"]) if it.get("yesno") == "no")
    item["forbid"] = [p for p in item["forbid"] if not p.startswith("^")] or ["\u4e0d\u5b58\u5728\u7684\u8bf4\u6cd5"]

    status, report = check_edited(tmp_path, dev)

    assert status == 1
    assert any(
        error.startswith(f"dev.in_scope[{index}]: no forbid pattern catches a reply opening with yes")
        for error in report["errors"]
    )
