# The two set-up commands: `make run` and `make test`. Nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
SETSID := $(shell command -v setsid 2>/dev/null)

.PHONY: run test lint demo migrate seed bench clean translations

# The provider and, beside it, the demo (demo/: `idp demo ...`), both editable.
$(STAMP): pyproject.toml demo/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e ./demo
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/idp db upgrade

seed: migrate
	$(BIN)/idp demo seed

## make run: install, migrate the embedded SQLite database, load demo data, serve on $(HOST):$(PORT)
## with the worker (idp worker: logout notices, e-mail) beside the server; Ctrl-C stops both.
## Without IDP_MAIL_SMTP_HOST, e-mail is kept in the dev mailbox at $(HOST):$(PORT)/dev/mail. The issuer is
## http://$(HOST):$(PORT) unless IDP_ISSUER is set. The server runs
## in a session of its own and is stopped by one SIGTERM to its main process: granian hangs
## when its workers get the terminal's SIGINT at the same time as their parent. A stop asked
## for (Ctrl-C, SIGTERM, hang-up) that ends the server cleanly exits 0: no "Error 130". (make
## itself then ends by the interrupt it received, as every program does, silently.)
run: seed
	@export IDP_ISSUER="$${IDP_ISSUER:-http://$(HOST):$(PORT)}"; \
	if [ -z "$${IDP_MAIL_SMTP_HOST}" ]; then \
		echo "E-mail is not sent (no IDP_MAIL_SMTP_HOST): read it in the dev mailbox, $$IDP_ISSUER/dev/mail"; \
	else echo "E-mail is sent through SMTP $${IDP_MAIL_SMTP_HOST}"; fi; \
	echo "Console: $$IDP_ISSUER/admin/ (demo super-administrator admin@haugiang.gov.vn / HauGiang@QuanTri2026,"; \
	echo "  a second factor is enrolled at the first sign-in; unit administrator of Vị Thanh:"; \
	echo "  quantri.vithanh@haugiang.gov.vn / HauGiang@DonVi2026; docs/admin.md)"; \
	$(BIN)/idp worker & worker=$$!; \
	$(SETSID) $(BIN)/idp serve --host $(HOST) --port $(PORT) & server=$$!; \
	stopped=; \
	trap 'stopped=1; kill -TERM $$server $$worker 2>/dev/null' INT TERM HUP; \
	while :; do wait $$server; status=$$?; kill -0 $$server 2>/dev/null || break; done; \
	kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null; \
	if [ -n "$$stopped" ] && { [ $$status -eq 0 ] || [ $$status -eq 143 ] || [ $$status -eq 130 ]; }; then \
		echo "Stopped."; status=0; fi; \
	exit $$status

## make test: install and run the whole test suite (and the linter, and the import contracts
## of pyproject.toml's [tool.importlinter]: the arrows between packages)
test: $(STAMP)
	$(BIN)/ruff check idp demo tests bench
	$(BIN)/lint-imports
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
	$(BIN)/ruff check idp demo tests bench
	$(BIN)/ruff format --check idp demo tests bench

demo: seed
	$(BIN)/idp demo run --host $(HOST)

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache
