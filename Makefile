# Two commands do all set-up: `make run` (the daemon on config/monitor.toml) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: run once demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)  ## poll every source on its interval until Ctrl-C
	$(VENV)/bin/monitor run

once: $(STAMP)  ## poll every source once
	$(VENV)/bin/monitor run --once

demo: $(STAMP)  ## run the pipeline on the bundled sample portal (no internet needed)
	$(VENV)/bin/monitor demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check monitor tests bench
	$(VENV)/bin/mypy

test: lint  ## lint, type-check and run the whole test suite
	$(VENV)/bin/pytest

bench: $(STAMP)  ## benchmarks against peers (installs the peers first)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/extraction.py
	$(PY) bench/match.py
	$(PY) bench/dedupe.py
	$(PY) bench/search.py
	$(PY) bench/pipeline.py  # needs nginx (apt-get install nginx)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
