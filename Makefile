# fengqiao: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3.13 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo demo-build test test-fast lint format messages migrations-check clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "fengqiao needs Python >= 3.12: put python3.12 on PATH or run make PYTHON=/path/to/python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) messages

messages: $(STAMP)
	@$(BIN)/python -m fengqiao.core.messages

# The demo serves with the second factor switched off (a red banner says so on every admin page).
demo: setup
	FENGQIAO_DEMO_NO_2FA=1 $(BIN)/fengqiao demo

demo-build: setup
	$(BIN)/fengqiao demo --no-serve

test: setup
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: setup
	FENGQIAO_DATA_DIR=$$(mktemp -d) $(BIN)/fengqiao makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var .pytest_cache
