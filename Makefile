# https-request: see README.md. `make test` is what CI runs (via .ci/run).

SHELL := /bin/bash
.DEFAULT_GOAL := test

VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

# The first interpreter found that is Python >= 3.11.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

# Debian package : command it provides (the programs the tests drive; tests/procs.py TOOLS).
DEB_DEPS := openssl:openssl gnutls-bin:gnutls-cli curl:curl coreutils:stdbuf git:git iproute2:ip unbound:unbound chrony:chronyd tmux:tmux redis-server:redis-server tinyproxy:tinyproxy nghttp2-client:nghttp chromium:chromium

LINT_PATHS := $(wildcard src tests bench)

# bench/server.py's peers: their own venv (never the test venv), pinned so that reruns compare the same servers.
BENCH_VENV  := .bench-venv
BENCH_PEERS := uvicorn==0.55.0 uvloop==0.23.0 httptools==0.9.0
BENCH_DEB   := nginx:nginx nghttp2-client:h2load

.PHONY: venv deps lint docs test demo bench bench-venv bench-deps bench-server bytecode clean distclean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		if [ -z "$(PYTHON)" ]; then echo "venv: no Python >= 3.11 found (set PYTHON=...)" >&2; exit 1; fi; \
		echo "venv: creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# bench-deps: what bench/server.py needs besides the test deps (nginx, not a test dependency; h2load, a test one too).
deps: DEB_LIST = $(DEB_DEPS)
deps: DEB_NOTE = ; interop tests will skip (and fail under CI=true)
bench-deps: DEB_LIST = $(BENCH_DEB)
bench-deps: DEB_NOTE = ; bench/server.py needs them
deps bench-deps:
	@missing=""; \
	for pair in $(DEB_LIST); do \
		pkg=$${pair%%:*}; cmd=$${pair##*:}; \
		command -v $$cmd >/dev/null 2>&1 || dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
			echo "$@: missing$$missing; install them (as root: apt-get install$$missing)$(DEB_NOTE)" >&2; \
		else \
			echo "$@: installing$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		fi; \
	fi

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy --strict src

# Byte-compile the package: where PYTHONDONTWRITEBYTECODE is set (as on this project's machines),
# every command would otherwise recompile it (~0.1 s per start).
bytecode: venv
	@$(BIN)/python -m compileall -q src

# The API reference from the docstrings (mkdocs + mkdocstrings, mkdocs.yml) into build/docs;
# --strict: a warning (a docstring naming a parameter the signature lacks, a broken page) fails it.
docs: venv
	$(BIN)/mkdocs build --strict --quiet

test: venv deps lint docs bytecode
	$(BIN)/pytest -q

demo: venv bytecode
	$(BIN)/https-request demo

bench: venv
	$(BIN)/python bench/handshake.py

# uvicorn, uvloop and httptools for bench/server.py's peers, beside the project (installed editable).
bench-venv: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed: pyproject.toml Makefile
	@if [ ! -x $(BENCH_VENV)/bin/python ]; then \
		if [ -z "$(PYTHON)" ]; then echo "bench-venv: no Python >= 3.11 found (set PYTHON=...)" >&2; exit 1; fi; \
		echo "bench-venv: creating $(BENCH_VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(BENCH_VENV) || { rm -rf $(BENCH_VENV); exit 1; }; \
	fi
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e . $(BENCH_PEERS)
	@touch $@

# Issue 12's table: serve side by side with uvicorn (two ways), a stdlib ssl server and nginx.
# bytecode first: with PYTHONDONTWRITEBYTECODE set, each serve would compile the package as it starts
# (CPU, and ~0.4 MiB more peak RSS in the table).
bench-server: venv bench-venv bench-deps bytecode
	$(BIN)/python bench/server.py

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(BENCH_VENV)
