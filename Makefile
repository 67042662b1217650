# The two set-up commands: `make run` and `make test`. Nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint demo migrate seed bench clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/idp db upgrade

seed: migrate
	$(BIN)/idp demo seed

## make run: install, migrate the embedded SQLite database, load demo data, serve on $(HOST):$(PORT)
run: seed
	$(BIN)/idp serve --host $(HOST) --port $(PORT)

## make test: install and run the whole test suite (and the linter)
test: $(STAMP)
	$(BIN)/ruff check idp tests bench
	$(BIN)/python -m pytest

## make translations: re-extract the Vietnamese source strings, update and compile the English catalogue
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --add-location=file --sort-by-file \
		--no-wrap --project=idp --header-comment="# Source strings (Vietnamese) of the pages." \
		-o idp/translations/messages.pot .
	$(BIN)/pybabel update -i idp/translations/messages.pot -d idp/translations -D messages \
		--no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -d idp/translations -D messages --statistics

lint: $(STAMP)
	$(BIN)/ruff check idp tests bench
	$(BIN)/ruff format --check idp tests bench

demo: seed
	$(BIN)/idp demo run --host $(HOST)

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache
