# One target per task. `make up` and `make test` work from a clean clone:
# they create .venv and install the package with its dev extras on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install gen gen-check lint test test-fast up status bench clean

$(STAMP): pyproject.toml package.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm install --no-audit --no-fund --silent
	touch $(STAMP)

install: $(STAMP)

gen: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

# Fails when generated/ does not match proto/ (run `make gen` and commit).
gen-check: gen
	@git diff --exit-code --stat -- generated || { echo "generated/ is stale: run 'make gen' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- generated)" || { git status --porcelain -- generated; echo "generated/ has untracked files: run 'make gen' and commit"; exit 1; }

lint: $(STAMP)
	npx --no-install buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest

up: $(STAMP)
	$(BIN)/tickmesh up

status: $(STAMP)
	$(BIN)/tickmesh status

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .tickmesh
