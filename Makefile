# Thin aliases over the commands the README shows.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test worker web lint migrate demo bench e2e-deps fuzz

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# The `gatehouse` command-line client (gatehouse_cli/), editable so it follows the checkout.
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Front-end packages (htmx) from package-lock.json; reinstalled when package*.json change.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm > /dev/null || { echo 'make: npm not found. The portal serves one front-end package (htmx) from the npm registry: install Node.js 18+ with npm (Debian: apt-get install nodejs npm), then run make again.'; exit 1; }
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

# One command for a newcomer: install, migrate, demo data, a worker and the web server.
run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	bin/run-dev

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2

web: install
	$(BIN)/python manage.py runserver 127.0.0.1:$${PORT:-8000}

lint: install
	$(BIN)/ruff check .

# Debian's Chromium for the browser tests: installed when missing (as root), else the command.
e2e-deps:
	bin/ensure-chromium

test: install e2e-deps
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/python -m pytest

# Schemathesis over the OpenAPI schema against a real server on demo data (bin/fuzz.py).
fuzz: install
	$(BIN)/python bin/fuzz.py

bench: install
	$(BIN)/python bench/registry_bench.py
