# One target per task. `make up` and `make test` work from a clean clone:
# they create .venv and install the package with its dev extras on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install gen gen-check lint test test-fast deploy-check up status bench clean

# The root package.json holds the npm tools (buf); clients/node is the Node client example,
# installed with `npm ci`: exactly its lockfile's versions.
$(STAMP): pyproject.toml package.json clients/node/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm install --no-audit --no-fund --silent
	cd clients/node && npm ci --no-audit --no-fund --silent
	touch $(STAMP)

install: $(STAMP)

GENERATED := generated clients/betterproto/tickmesh_betterproto

gen: $(STAMP)
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python clients/betterproto/generate.py

# Fails when generated code does not match proto/ (run `make gen` and commit).
gen-check: gen
	@git diff --exit-code --stat -- $(GENERATED) || { echo "generated code is stale: run 'make gen' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "generated code has untracked files: run 'make gen' and commit"; exit 1; }

lint: $(STAMP)
	npx --no-install buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest

# The compose file, Kubernetes manifests and Dockerfile, validated statically against their
# schemas (no container engine needed); also part of `make test`.
deploy-check: $(STAMP)
	$(BIN)/pytest tests/deploy -q

up: $(STAMP)
	$(BIN)/tickmesh up

status: $(STAMP)
	$(BIN)/tickmesh status

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .tickmesh
