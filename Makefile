# The README's two commands: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR := static/vendor/htmx.min.js static/vendor/chart.umd.js

# pytest-xdist processes for `make test` (the CI machine has 2 cores; TEST_WORKERS=0 runs in one process)
TEST_WORKERS ?= 2

OA3_VENV := .venv-oa3client
OA3_STAMP := $(OA3_VENV)/.installed

.PHONY: setup demo test bench lint check compile serve clean screenshots oa3client opendsm-venv

setup: $(PY_STAMP) $(NODE_STAMP) $(VENDOR)

$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# OpenDSM (CalTRACK's reference implementation) in its own venv: the suite's CalTRACK cross-check runs it in a
# subprocess (assessment/tests/test_caltrack_vs_opendsm.py); its ~60 packages stay out of .venv.
OPENDSM_VENV := var/opendsm-venv
opendsm-venv: $(OPENDSM_VENV)/.installed
$(OPENDSM_VENV)/.installed: requirements-opendsm.txt
	test -x $(OPENDSM_VENV)/bin/python || $(PYTHON) -m venv $(OPENDSM_VENV)
	$(OPENDSM_VENV)/bin/python -m pip install --quiet -r requirements-opendsm.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/htmx.min.js: $(NODE_STAMP)
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $@

static/vendor/chart.umd.js: $(NODE_STAMP)
	mkdir -p static/vendor
	cp node_modules/chart.js/dist/chart.umd.js $@

# Sets up, migrates the SQLite default, starts a local anvil (state under var/), loads the demo world,
# runs one market day through all seven steps, prints a summary and serves the portal on :8000.
demo: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo --serve

# The independent OpenADR 3 client (python-oa3-client, pinned) in its own venv, for the end-to-end test.
oa3client: $(OA3_STAMP)

$(OA3_STAMP): requirements-oa3client.txt
	test -x $(OA3_VENV)/bin/python || $(PYTHON) -m venv $(OA3_VENV)
	$(OA3_VENV)/bin/python -m pip install --quiet -r requirements-oa3client.txt
	touch $@

# Sets up and runs the whole suite (Postgres/Redis when DATABASE_URL/REDIS_URL say so).
test: setup oa3client
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# ruff, the layer contracts of ADR 0017 (pyproject.toml [tool.importlinter]) and migrations in step with models.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python manage.py makemigrations --check --dry-run

compile: $(NODE_STAMP)
	node contracts/compile.js

# The in-memory benchmarks; the ones that need PostgreSQL or MQTT are listed in the README.
bench: setup
	$(BIN)/python bench/bench_merkle.py
	$(BIN)/python bench/bench_baselines.py
	$(BIN)/python bench/bench_day_ahead.py
	$(BIN)/python bench/bench_book.py
	$(BIN)/python bench/bench_consumer_pages.py

# Full-page PNGs of every consumer page and of the aggregator, operator, admin and auditor consoles (desktop and
# 390 px) from the demo world, under var/screenshots/.
screenshots: setup
	SCREENSHOTS=1 $(BIN)/python -m pytest -q -m screenshots portal/tests/test_screenshots.py

clean:
	rm -rf var/ static/vendor/ $(OA3_VENV)/
