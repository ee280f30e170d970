# Loyalty Bot. `make run` to try it, `make test` for everything CI runs.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: run test lint types unit venv dev-deps test-deps translations messages revision bench clean

run: venv translations
	@scripts/run-dev.sh

test: dev-deps test-deps translations lint types
	$(VENV)/bin/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: dev-deps
	$(VENV)/bin/mypy

unit: dev-deps translations
	$(VENV)/bin/pytest tests/unit -q

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@scripts/ensure-python.sh $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

dev-deps: $(VENV)/.dev-installed

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt
	@scripts/ensure-python.sh $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $(VENV)/.installed $@

test-deps:
	@scripts/ensure-test-services.sh

translations: venv
	@if [ -d bot/translations ]; then $(VENV)/bin/pybabel compile -f -d bot/translations -D messages; fi

# A new schema revision from the models' changes: make revision m="what changed" (review the file it writes).
revision: dev-deps
	@test -n "$(m)" || { echo 'usage: make revision m="what changed"'; exit 2; }
	@n=$$(ls migrations/versions/[0-9]*_*.py | wc -l); \
	  $(VENV)/bin/alembic -c alembic.ini revision --autogenerate --rev-id $$(printf '%04d' $$((n + 1))) -m "$(m)"
	$(VENV)/bin/ruff format -q migrations/versions

bench: dev-deps test-deps
	$(PY) bench/ledger.py
	$(PY) bench/webhook.py
	$(PY) bench/message_cost.py
	$(PY) bench/erp_sync.py
	$(PY) bench/admin.py
	$(PY) bench/api.py
	$(PY) bench/campaigns.py

# Re-extract the bot's texts into the catalogs after changing them in the code.
messages: dev-deps
	$(VENV)/bin/pybabel extract -F babel.cfg -k n_:1,2 --no-location --sort-output -o bot/translations/messages.pot bot
	$(VENV)/bin/pybabel update -i bot/translations/messages.pot -d bot/translations -D messages

clean:
	rm -rf $(VENV) instance/*.db test-artifacts .pytest_cache .mypy_cache .ruff_cache
