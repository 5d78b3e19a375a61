# Vietnamese news-archive search. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO   ?= data/demo

.DEFAULT_GOAL := help
.PHONY: help install ray browser nginx demo run serve nightly test lint bench clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv, install requirements, convert the default model and export its query encoder to ONNX if missing
	$(PY) -m indexer model

demo: install ## ingest the demo corpus and build its index
	$(PY) -m indexer ingest $(DEMO)
	$(PY) -m indexer build

run: demo ## build the demo index and serve it on http://HOST:PORT (default 127.0.0.1:8000)
	$(PY) -m flask --app service:create_app run --host $(HOST) --port $(PORT)

WORKERS ?= 2
THREADS ?= 4
CORES  := $(shell nproc 2>/dev/null || echo 2)
serve: install ## production server (gunicorn, WORKERS x THREADS) on HOST:PORT, serving the data dir as it is
	NEWSSEARCH_TORCH_THREADS=$$(( $(CORES) / $(WORKERS) > 0 ? $(CORES) / $(WORKERS) : 1 )) $(VENV)/bin/gunicorn --workers $(WORKERS) --threads $(THREADS) --bind $(HOST):$(PORT) \
		--config deploy/gunicorn.conf.py 'service:create_app()'

nightly: install ## crawl every source, index what is new, publish (see deploy/ to schedule it)
	$(PY) -m indexer nightly

# A Debian package the tests need, installed when its program is absent (needs root).
define debian_package
	@command -v $(1) >/dev/null 2>&1 || [ -x /usr/sbin/$(1) ] || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
		else echo "$(1) is missing and this is not root: the tests that need it will be skipped"; fi; }
endef

browser: ## install Debian's chromium for the browser tests when it is absent (needs root)
	$(call debian_package,chromium)

nginx: ## install Debian's nginx for the replica tests (load balancer in front) when it is absent (needs root)
	$(call debian_package,nginx)

$(VENV)/.ray-installed: $(VENV)/.installed requirements-ray.txt
	$(VENV)/bin/pip install --quiet -r requirements-ray.txt
	touch $@

ray: $(VENV)/.ray-installed ## install the optional Ray extra (embedding on a Ray cluster: build --ray)

test: install ray browser nginx ## run the test suite (with the Ray extra, chromium and nginx, so all of it runs)
	$(PY) -m pytest

CORPUS ?= ../shared/corpus
$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(VENV)/bin/pip install --quiet -r requirements-bench.txt
	touch $@

bench: demo $(VENV)/.bench-installed ## quick benchmarks (a few minutes) and their summary; CORPUS=dir adds real news
	$(PY) -m bench --quick $$( [ -d "$(CORPUS)" ] && echo --corpus "$(CORPUS)" )

lint: install ## ruff
	$(VENV)/bin/ruff check .

clean-data: ## delete runtime data (database, index versions, caches); keeps the converted model
	rm -rf data/archive.sqlite3* data/index data/cache
