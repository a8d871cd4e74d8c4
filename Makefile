# Two commands set everything up on a fresh machine:
#   make run   - virtualenv + install + `inbox demo` on http://127.0.0.1:8080
#   make test  - virtualenv + test dependencies (+ Dovecot and Chromium when root) + whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
STAMP := $(VENV)/.installed-test-$(HASH)
SYSTEM_PACKAGES := dovecot-imapd chromium
PORT ?= 8080

.PHONY: run test system-packages lint bench clean

$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-run-* && touch $@

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-test-* && touch $@

run: $(RUN_STAMP)
	$(BIN)/inbox demo --host 127.0.0.1 --port $(PORT)

# Dovecot (IMAP tests) and Chromium (browser tests) come from Debian; installed when root.
system-packages:
	@missing=""; \
	command -v dovecot >/dev/null 2>&1 || missing="$$missing dovecot-imapd"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing (install them as root; their tests fail under CI=true)"; \
	  fi; \
	fi

test: $(STAMP) system-packages lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# SCALE: the size of bench/scale.py's store (built once, kept as scale-SIZE.db, reused)
SCALE ?= 20000
bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.ingest_search
	$(BIN)/python -m bench.scale --messages $(SCALE) --runs 10 --budget 5
	$(BIN)/python -m bench.http --store scale-$(SCALE).db --seconds 5

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis inbox-demo.db*
