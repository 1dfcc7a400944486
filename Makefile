# graphwire: `make serve` / `make chat Q="..."` run it, `make test` checks everything.
# Both set up .venv on a fresh machine (Python >= 3.11 with venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
Q      ?= What is the rated power of the Voltra 6 motor?

# Playwright (a dev dependency) drives Debian's Chromium; it must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install browser valgrind lint typecheck pytest test serve chat eval graph bench bench-ttft bench-instructions bench-gc bench-retrieval clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "graphwire needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium, for the browser tests (Playwright drives it; it never downloads a browser).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

# Debian's valgrind, for the instruction counts of `make bench-instructions`.
valgrind:
	@command -v valgrind >/dev/null || ($(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy reads the package by its installed name through links (it ignores package-dir mappings;
# the empty __init__ keeps it from taking agents/packs/, the demo pack's folder, for agents.packs).
typecheck: install
	@mkdir -p $(VENV)/mypy-path/graphwire && touch $(VENV)/mypy-path/graphwire/__init__.py
	@for part in agents graph transport api; do ln -sfn $(CURDIR)/$$part $(VENV)/mypy-path/graphwire/$$part; done
	$(BIN)/mypy

pytest: install browser
	$(BIN)/pytest

test: lint typecheck pytest

serve: install
	$(BIN)/graphwire serve

chat: install
	$(BIN)/graphwire chat "$(Q)"

eval: install
	$(BIN)/graphwire eval

bench: install
	$(BIN)/python -m bench.run

bench-ttft: install
	$(BIN)/python -m bench.ttft

bench-instructions: install valgrind
	$(BIN)/python -m bench.instructions

bench-gc: install
	$(BIN)/python -m bench.gcpauses

bench-retrieval: install
	$(BIN)/python -m bench.retrieval

graph: install
	$(BIN)/graphwire graph

clean:
	rm -rf $(VENV) .graphwire .mypy_cache .ruff_cache .pytest_cache
