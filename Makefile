# Every target sets up what it needs on a fresh machine, then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
# The whole suite keeps its branch coverage (servers and devices run as child processes
# count too); `make test ARGS=tests/unit COVERAGE=` runs a part without the floor.
COVERAGE ?= --cov --cov-report=term:skip-covered --cov-fail-under=92

.PHONY: setup test-setup lint test demo cluster-demo bench clean

setup: $(STAMP)
	@scripts/install-system-deps.sh mosquitto

test-setup: $(STAMP)
	@scripts/install-system-deps.sh mosquitto chromium nodejs nats-server

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dreamcommons needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@scripts/typecheck-view.sh
	$(BIN)/mypy

test: test-setup lint
	$(BIN)/pytest $(COVERAGE) $(ARGS)

demo: setup
	$(BIN)/dreamcommons demo $(ARGS)

# A cluster on this machine: NATS with JetStream, two engines, two gateways, bot dreamers on
# both gateways (docs/cluster.md); ARGS="--seconds 60 --bots 12 --json".
cluster-demo: $(STAMP)
	@scripts/install-system-deps.sh nats-server mosquitto
	$(BIN)/dreamcommons cluster-demo $(ARGS)

# The "commons" workload of BENCH.md on dreamcommons and on a bare broadcast (bench/baseline.py),
# side by side: one Markdown table, a row per N and system; ARGS="--json" for JSON.
bench: setup
	$(BIN)/python -m bench.commons $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts build .coverage .coverage.*
