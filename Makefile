# Two commands for a fresh machine with Python 3.11+ and make:
#   make run   set up everything, load the demo network, start web server + task worker
#   make test  install test tools and run the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ADDR ?= 127.0.0.1:8000

.PHONY: run test lint install

$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo "Open http://$(ADDR)/admin/ (demo logins printed above). Ctrl-C stops the server and the worker."
	exec $(PY) manage.py serve $(ADDR)

# axe-core (accessibility checks in the browser tests) comes from npm when npm is there;
# without npm or Debian's chromium the browser tests skip with a reason.
.ci-node/node_modules/axe-core:
	-command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix .ci-node axe-core@4

test: $(VENV)/.installed-test .ci-node/node_modules/axe-core
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
