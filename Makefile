# Quick start: `make demo` serves the demo portal; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: demo test install lint check-deploy clean messages

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

demo: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py loaddata utilities
	DEBUG=1 $(BIN)/python manage.py load_demo
	DEBUG=1 $(BIN)/python manage.py offer_name_change kanazawa nayoro
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The catalogs (README "Languages"): add new msgids to every language's .po, then compile the
# .mo files that are committed (needs GNU gettext: apt-get install gettext).
messages: install
	$(BIN)/python manage.py makemessages -l en -l ja_Easy --no-obsolete --no-wrap --ignore "tests/*"
	$(BIN)/python manage.py compilemessages -l en -l ja_Easy

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
