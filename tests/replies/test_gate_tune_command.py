import json
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatbot.replies.faq_index import site_encoder_name, site_reranker
from chatbot.replies.loading import embedder_get
from intents.hybrid import DEFAULT_RERANKER, Reranker

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "chatbot" / "knowledge" / "demo_faq_questions.json"

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_tuning_the_demo_site_saves_thresholds_no_worse_than_before(
    demo_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    out = StringIO()
    call_command("gate_tune", "--site", "demo", "--data", str(QUESTIONS), "--apply", "--json", stdout=out)
    report = json.loads(out.getvalue())
    demo_site.refresh_from_db()
    labelled = json.loads(QUESTIONS.read_text())
    assert report["questions"] == len(labelled["in_scope"]) + len(labelled["out_of_scope"])
    assert report["reranker"]["features"] and demo_site.retrieval_reranker == report["reranker"]
    assert (demo_site.answer_threshold, demo_site.clarify_margin) == (
        report["tuned"]["answer_threshold"],
        report["tuned"]["clarify_margin"],
    )
    assert report["tuned"]["utility"] >= report["current"]["utility"]
    assert report["tuned"]["answered_wrong"] < 0.15
    assert set(report["tuned_out_of_sample_2fold"]) >= {"answered_right", "answered_wrong", "off_topic_handed_off"}
    # The weights are the site's over the encoder they were fit over, and only over that one.
    serving = site_encoder_name(demo_site, "en", embedder_get())
    tuned = Reranker.from_json(demo_site.retrieval_reranker)
    assert tuned.encoder == serving == "all-MiniLM-L6-v2" and site_reranker(demo_site, "en", serving) == tuned
    with caplog.at_level(logging.WARNING):
        assert site_reranker(demo_site, "en", "multilingual-e5-small") == DEFAULT_RERANKER
    assert "fit over all-MiniLM-L6-v2, not multilingual-e5-small" in caplog.text


def test_labels_that_name_no_faq_entry_are_refused(demo_site: Any, tmp_path: Path) -> None:
    bad = tmp_path / "q.json"
    bad.write_text(json.dumps({"in_scope": [{"text": "hi", "question": "Not an entry?"}], "out_of_scope": []}))
    with pytest.raises(CommandError, match="name no active FAQ entry"):
        call_command("gate_tune", "--site", "demo", "--data", str(bad))
    with pytest.raises(CommandError, match="expected"):
        bad.write_text("[]")
        call_command("gate_tune", "--site", "demo", "--data", str(bad))
