# Vietnamese news-archive search. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO   ?= data/demo

.DEFAULT_GOAL := help
.PHONY: help install demo run nightly test lint clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv, install requirements, convert the default model if missing
	$(PY) -m indexer model

demo: install ## ingest the demo corpus and build its index
	$(PY) -m indexer ingest $(DEMO)
	$(PY) -m indexer build

run: demo ## build the demo index and serve it on http://$(HOST):$(PORT)
	$(PY) -m flask --app service:create_app run --host $(HOST) --port $(PORT)

nightly: install ## crawl every source, index what is new, publish (see deploy/ to schedule it)
	$(PY) -m indexer nightly

test: install ## run the test suite
	$(PY) -m pytest

lint: install ## ruff
	$(VENV)/bin/ruff check .

clean-data: ## delete runtime data (database, index versions, caches); keeps the converted model
	rm -rf data/archive.sqlite3* data/index data/cache
