# Two commands on a fresh machine: `make run` (the app with demo data) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VIEWER := static/dist/viewer.js
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install viewer browser-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(STAMP)

$(VIEWER): static/viewer/package.json static/viewer/package-lock.json $(wildcard static/viewer/src/*)
	npm ci --prefix static/viewer --no-audit --no-fund --loglevel=error
	npm run build --prefix static/viewer

viewer: $(VIEWER)

# Debian's chromium for the browser tests (Playwright's own browser download does not work offline)
browser-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

run: install viewer
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_kg
	$(PY) manage.py seed_demo
	@echo "RadSim on http://$(HOST):$(PORT)/"
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) simulator.asgi:application

test: install viewer browser-deps
	$(PY) -m pytest

# Figures for BENCHMARKS.md: phantom render throughput per core, then the generator (latency, the diffusers
# baseline as a ratio, 8 concurrent requests, fraction of the matmul peak in the type the generator runs in
# (bf16 only on bf16 hardware), 256 px routes) at one thread (as
# the web server runs it) and at two. Run on a quiet machine: other load changes every figure.
bench: install
	$(PY) -m inference.phantoms bench --modality cxr --sizes 64 128 256
	$(PY) -m inference.phantoms bench --modality ct --sizes 64 256
	$(PY) -m inference.phantoms bench --modality lap --sizes 64 256
	$(PY) -m inference.bench --threads 1
	$(PY) -m inference.bench --threads 2

clean:
	rm -rf $(VENV) static/dist static/viewer/node_modules var
