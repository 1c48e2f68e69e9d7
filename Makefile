# Two entry points for a fresh machine with Python 3.11+ and make:
#   make run    install feedsvc into .venv and run one cycle over sources.yaml
#   make test   install the test tools and run lint, type check and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
CONFIG ?= sources.yaml

.PHONY: run test lint typecheck pytest postgres-server bench bench-speed bench-scaling clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "feedsvc needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/feedsvc --config $(CONFIG) run
	@echo "Published feeds are in $(CURDIR)/output/ (open output/index.html)"

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/ruff format --check feedsvc tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# The store tests run on SQLite and on PostgreSQL: pytest starts a throwaway
# cluster itself (tests/support/postgres.py); this installs the server if missing.
postgres-server:
	@bash tests/support/install-postgres.sh

pytest: $(VENV)/.dev-installed postgres-server
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/stories_quality.py
	$(BIN)/python bench/stories_speed.py

# Whole-process speed benchmark against reader (docs/benchmarks.md); scratch in bench/.work/.
# Options go in BENCH_ARGS, e.g. make bench-speed BENCH_ARGS="--corpus synthetic --scale 0.1"
bench-speed: $(VENV)/.dev-installed
	$(BIN)/python bench/speed.py $(BENCH_ARGS)

# Scaling benchmark (docs/scaling.md): 1, 2, 4 workers on PostgreSQL vs one SQLite run, kill -9.
bench-scaling: $(VENV)/.dev-installed postgres-server
	$(BIN)/python bench/scaling.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data output/*.rss output/*.atom output/*.json output/*.html output/*.opml output/sources output/tags
