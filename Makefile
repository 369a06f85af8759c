# Relink. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.DEFAULT_GOAL := help
.PHONY: help install run test bench faults load lint fmt schema migrate seed clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q ".[dev]"
	touch $@

install: $(BIN)/.installed ## Create .venv and install everything (also done by run/test)

run: install ## Migrate, seed a demo, start web + worker + beat (+ sandbox provider) on PORT (8000)
	$(BIN)/python scripts/init_env.py
	$(BIN)/python manage.py migrate --noinput
	bash scripts/run.sh

test: install ## Run the whole test suite (SQLite by default, DATABASE_URL for PostgreSQL)
	bash scripts/test.sh

bench: install ## Run the benchmarks under bench/ against PostgreSQL and print one table
	bash scripts/bench.sh

faults: install ## Fault drills: Redis outage, worker SIGKILL, dropped DB connections, slow provider (PostgreSQL)
	bash scripts/faults.sh

load: install ## Load drill: 200 API reads/s for 60 s on gunicorn + PostgreSQL during syncs; p50/p99/errors
	$(BIN)/python scripts/load.py

lint: install ## ruff check + format check + missing migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

fmt: install ## Format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: install ## Regenerate docs/openapi.yaml, the committed OpenAPI schema (tests fail when it drifts)
	DEBUG=1 $(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

clean: ## Stop the local Redis and remove local state (db.sqlite3, .run/)
	-$(BIN)/python scripts/local_redis.py stop
	rm -rf .run db.sqlite3 db.sqlite3-*
