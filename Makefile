# Two commands set up and run everything on a fresh machine with Python 3.11,
# Java 17+ and Maven: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint unit kafka-up kafka-down bench quix promtool kcat chromium lock clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: a broker, a worker, a simulated stream, live scores and alerts.
demo: $(STAMP)
	$(BIN)/leadscore demo

# Lint, types, then every test (the broker is started by the test session when absent).
test: $(STAMP) promtool kcat chromium lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check streams schemas tests bench deploy
	$(BIN)/ruff format --check streams schemas tests bench deploy
	$(BIN)/mypy streams schemas

unit: $(STAMP)
	$(BIN)/pytest -q -m "not kafka and not faults"

# requirements.lock: the runtime dependencies the image installs, pinned to what .venv has
# (upgrade one with `$(BIN)/pip install -U NAME`, test, then `make lock`).
lock: $(STAMP)
	$(BIN)/python deploy/lock.py

# promtool (Debian's prometheus package) runs the alert-rule unit tests.
promtool:
	@./deploy/install-tool.sh promtool prometheus

# kcat (Debian's package) is the independent client some integration tests produce with.
kcat:
	@./deploy/install-tool.sh kcat kcat

# chromium (Debian's package) is the headless browser the Playwright browser tests drive.
chromium:
	@./deploy/install-tool.sh chromium chromium

kafka-up: $(STAMP)
	$(BIN)/leadscore kafka up

kafka-down: $(STAMP)
	$(BIN)/leadscore kafka down

# The benchmark needs the broker: started here when absent (harmless when running).
bench: $(STAMP) kafka-up quix
	$(BIN)/python -m bench

# The bench's Quix Streams peer, in its own virtualenv (its client is confluent-kafka).
quix: .venv-quix/.installed
.venv-quix/.installed: bench/quix-requirements.txt
	$(PYTHON) -m venv .venv-quix
	.venv-quix/bin/pip install -q -r bench/quix-requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .venv-quix var .mypy_cache .ruff_cache .pytest_cache
